import { runCommand } from "../helpers.ts";

/**
 * Runs Apache Pulsar's pulsar-admin (on `classpath`, from `pulsarAdminClasspath()`) with the client configuration file
 * `clientConf` against the admin API at `adminUrl`; its exit code and what it printed.
 */
export function runPulsarAdmin(
  classpath: string,
  clientConf: string,
  adminUrl: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCommand("java", [
    "-cp",
    classpath,
    "org.apache.pulsar.admin.cli.PulsarAdminTool",
    clientConf,
    "--admin-url",
    adminUrl,
    ...args,
  ]);
}
