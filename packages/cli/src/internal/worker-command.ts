import { existsSync, readFileSync } from "node:fs";
import { Worker, type WorkerOptions } from "@pulsar-connect/worker";
import { parse as parseYaml } from "yaml";
import { CliError } from "../errors.ts";
import type { CliIo } from "./output.ts";

type Options = Record<string, unknown>;

const CONFIG_KEYS = new Set([
  "port",
  "host",
  "dataDir",
  "pulsarServiceUrl",
  "pulsarAdminUrl",
  "pulsarAuthToken",
  "pulsarAuthPlugin",
  "pulsarAuthParams",
  "pulsarTlsTrustCertsFilePath",
  "pulsarTlsAllowInsecureConnection",
  "pulsarTlsEnableHostnameVerification",
  "connectorsDirs",
  "auth",
  "logLevel",
  "maxBodyBytes",
  "cluster",
  "clusterMode",
  "backoff",
  "stopTimeoutMs",
  "maxParallelism",
  "secretsEnv",
  "secretsDir",
  "fileDirs",
  "packageUploaders",
  "maxPackageBytes",
  "runtime",
  "uploadedPackagesRuntime",
  "heartbeatTimeoutMs",
]);

/** Reads the worker settings file (YAML, keys of WorkerOptions). */
function readConfigFile(path: string): WorkerOptions {
  if (!existsSync(path)) throw new CliError("USAGE", `--config: file ${path} does not exist`);
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CliError("USAGE", `--config: ${path} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed))
    throw new CliError("USAGE", `--config: ${path} must hold a mapping`);
  const unknown = Object.keys(parsed).filter((key) => !CONFIG_KEYS.has(key));
  if (unknown.length > 0) {
    throw new CliError("USAGE", `--config: unknown setting(s) ${unknown.join(", ")} in ${path}`, {
      hint: `Known settings: ${[...CONFIG_KEYS].join(", ")}.`,
    });
  }
  return parsed as WorkerOptions;
}

/** Builds the worker options from `--config` and flags. */
export function workerOptions(options: Options): WorkerOptions {
  const settings: WorkerOptions = options.config ? readConfigFile(String(options.config)) : {};
  if (options.port !== undefined) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new CliError("USAGE", `--port must be a port number (got '${String(options.port)}')`);
    }
    settings.port = port;
  }
  if (options.host !== undefined) settings.host = String(options.host);
  if (options.dataDir !== undefined) settings.dataDir = String(options.dataDir);
  if (options.pulsarUrl !== undefined) settings.pulsarServiceUrl = String(options.pulsarUrl);
  if (options.pulsarAdminUrl !== undefined) settings.pulsarAdminUrl = String(options.pulsarAdminUrl);
  if (options.pulsarToken !== undefined) settings.pulsarAuthToken = String(options.pulsarToken);
  if (options.pulsarAuthPlugin !== undefined) settings.pulsarAuthPlugin = String(options.pulsarAuthPlugin);
  if (options.pulsarAuthParams !== undefined) settings.pulsarAuthParams = String(options.pulsarAuthParams);
  if (options.logLevel !== undefined) settings.logLevel = String(options.logLevel);
  if (options.cluster !== undefined) {
    // Joining is what the flag asks for: settings of clusterMode from --config stay, the name comes from the flag.
    settings.cluster = String(options.cluster);
    settings.clusterMode = settings.clusterMode ?? {};
  }
  if (options.runtime !== undefined) {
    const runtime = String(options.runtime);
    if (runtime !== "in-process" && runtime !== "process") {
      throw new CliError("USAGE", `--runtime must be in-process or process (got '${runtime}')`);
    }
    settings.runtime = runtime;
  }
  if (options.stopTimeout !== undefined) {
    const seconds = Number(options.stopTimeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new CliError(
        "USAGE",
        `--stop-timeout must be a positive number of seconds (got '${String(options.stopTimeout)}')`,
      );
    }
    settings.stopTimeoutMs = Math.round(seconds * 1000);
  }
  if (Array.isArray(options.connectorsDir)) {
    settings.connectorsDirs = [...(settings.connectorsDirs ?? []), ...(options.connectorsDir as string[])];
  }
  return settings;
}

/** `pulsar-connect worker`: runs until SIGINT/SIGTERM, then closes gracefully. Resolves with the exit code. */
export async function runWorker(options: Options, io: CliIo): Promise<number> {
  const settings = workerOptions(options);
  let worker: Worker;
  try {
    worker = await Worker.start({ ...settings, logDestination: io.stdout });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE") {
      throw new CliError("FAILED", `Port ${settings.port ?? 6750} is already in use`, {
        hint: "Stop the other process or pass --port <port>.",
      });
    }
    throw new CliError("FAILED", `The worker could not start: ${(error as Error).message}`, { cause: error });
  }
  io.stderr.write(`pulsar-connect worker listening on ${worker.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  io.stderr.write("stopping: draining connector instances...\n");
  await worker.close();
  return 0;
}
