import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, type JvmServiceName, jarsRoot, repoRoot, type ServicePorts, serversDir } from "./config.ts";
import type { ServiceEndpoints } from "./endpoints.ts";
import { ServicesError } from "./errors.ts";
import { resolveJava17 } from "./java.ts";
import { tcpOpen, waitUntil } from "./probe.ts";
import { isAlive, spawnDetached, stopProcess, tailFile } from "./proc.ts";
import { type ServiceState, serviceDir, writeState } from "./state.ts";

/** Directories and files of one run of a JVM server under .run/services/<name>. */
export interface JvmRun {
  dir: string;
  confDir: string;
  dataDir: string;
  tmpDir: string;
  logsDir: string;
  logFile: string;
  lib: string;
  java: string;
}

export interface JvmLaunch {
  mainClass: string;
  jvmArgs: string[];
  args: string[];
}

export interface JvmServer<N extends JvmServiceName> {
  name: N;
  readyTimeoutMs: number;
  /** Every port the server binds, with the env variable that moves it (for conflict messages). */
  boundPorts(ports: ServicePorts[N]): Array<{ port: number; variable: string }>;
  endpoint(ports: ServicePorts[N]): ServiceEndpoints[N];
  /** Writes the config files (and formats storage where the server needs it). */
  prepare(run: JvmRun, ports: ServicePorts[N]): void;
  launch(run: JvmRun, ports: ServicePorts[N]): JvmLaunch;
  /** One readiness probe; must answer quickly (false) when nothing listens. */
  healthy(ports: ServicePorts[N]): Promise<boolean>;
}

/** Reads a template the repo owns from tooling/services/servers/<name>/<file>. */
export function template(name: JvmServiceName, file: string): string {
  return readFileSync(join(serversDir, name, file), "utf8");
}

/** Runs fetch-jars.sh, which resolves the server's classpath from Maven once and is a no-op afterwards. */
export function fetchJars(name: JvmServiceName): string {
  const script = join(repoRoot, "tooling/services/fetch-jars.sh");
  const result = spawnSync("bash", [script, name], { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    throw new ServicesError("JARS_FETCH_FAILED", `${name}: fetch-jars.sh failed (exit ${result.status})`, {
      cause: result.error,
    });
  }
  return join(jarsRoot(), name, "lib");
}

/** The JVM command line as an argument list (classpath wildcard expanded by the JVM, not a shell). */
export function javaArgs(run: JvmRun, launch: JvmLaunch): string[] {
  return [
    ...launch.jvmArgs,
    `-Djava.io.tmpdir=${run.tmpDir}`,
    "-Djava.net.preferIPv4Stack=true",
    "-cp",
    `${run.lib}/*`,
    launch.mainClass,
    ...launch.args,
  ];
}

export interface StartedJvm {
  state: ServiceState;
  ms: number;
}

/** Starts the server from a fresh data dir, detached, and waits until its readiness probe passes. */
export async function startJvm<N extends JvmServiceName>(
  server: JvmServer<N>,
  ports: ServicePorts[N],
): Promise<StartedJvm> {
  const started = Date.now();
  const java = resolveJava17();
  const lib = fetchJars(server.name);

  for (const { port, variable } of server.boundPorts(ports)) {
    if (await tcpOpen(HOST, port, 500)) {
      throw new ServicesError(
        "PORT_IN_USE",
        `${server.name}: port ${HOST}:${port} is taken by a process this tooling did not start ` +
          `(find it with \`ss -ltnp 'sport = :${port}'\`; or move ${server.name} with ${variable}=<port>)`,
      );
    }
  }

  const dir = serviceDir(server.name);
  const run: JvmRun = {
    dir,
    confDir: join(dir, "conf"),
    dataDir: join(dir, "data"),
    tmpDir: join(dir, "tmp"),
    logsDir: join(dir, "logs"),
    logFile: join(dir, "logs", `${server.name}.log`),
    lib,
    java,
  };
  for (const sub of [run.confDir, run.dataDir, run.tmpDir]) rmSync(sub, { recursive: true, force: true });
  for (const sub of [run.confDir, run.dataDir, run.tmpDir, run.logsDir]) mkdirSync(sub, { recursive: true });
  writeFileSync(run.logFile, "");

  server.prepare(run, ports);
  const launch = server.launch(run, ports);
  const env = { ...process.env };
  // Would switch the Pulsar standalone to ZooKeeper mode.
  delete env.PULSAR_STANDALONE_USE_ZOOKEEPER;
  const child = spawnDetached(java, javaArgs(run, launch), { cwd: run.dir, logFile: run.logFile, env });
  let exit: string | undefined;
  child.once("exit", (code, signal) => {
    exit = `exited early (${signal ?? `code ${code}`})`;
  });
  child.once("error", (error) => {
    exit = `could not be spawned: ${error.message}`;
  });
  const pid = child.pid;
  if (pid === undefined) {
    await new Promise((resolve) => setImmediate(resolve));
    throw new ServicesError("START_FAILED", `${server.name}: ${exit ?? "could not be spawned"}`);
  }
  const state: ServiceState = {
    name: server.name,
    pid,
    marker: run.confDir,
    managedBy: "jvm",
    ports: { ...ports },
    startedAt: new Date(started).toISOString(),
    logFile: run.logFile,
  };
  // Recorded before readiness so that `down` can stop a server whose start was interrupted.
  writeState(state);

  const outcome = await waitUntil(() => server.healthy(ports), {
    timeoutMs: server.readyTimeoutMs,
    intervalMs: 1_000,
    abort: () => exit ?? (isAlive(pid) ? undefined : "exited early"),
  });
  if (!outcome.ready) {
    if (isAlive(pid)) await stopProcess(pid, run.confDir, 10_000);
    const tail = await tailFile(run.logFile, 40);
    throw new ServicesError(
      outcome.reason.startsWith("not ready") ? "NOT_READY" : "START_FAILED",
      `${server.name} (pid ${pid}) ${outcome.reason}; last lines of ${run.logFile}:\n${tail}`,
    );
  }
  const ms = Date.now() - started;
  const ready: ServiceState = { ...state, readyAt: new Date().toISOString(), startMs: ms };
  writeState(ready);
  return { state: ready, ms };
}
