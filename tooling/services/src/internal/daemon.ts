import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DaemonServiceName, ServicePorts } from "./config.ts";
import type { ServiceEndpoints } from "./endpoints.ts";
import { ServicesError } from "./errors.ts";
import { waitUntil } from "./probe.ts";
import { isAlive, spawnDetached, stopProcess, tailFile } from "./proc.ts";
import { type ServiceState, serviceDir, writeState } from "./state.ts";

/** Files of one run of a Debian-packaged server under .run/services/<name>. */
export interface DaemonRun {
  dir: string;
  dataDir: string;
  logFile: string;
}

export interface DaemonLaunch {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Where the server writes its pid when the spawned command is a wrapper script. */
  pidFile?: string;
}

/** A server run from its Debian package's binary with a folder and ports of its own (no system service). */
export interface DaemonServer<N extends DaemonServiceName> {
  name: N;
  /** Debian package that holds `binary`. */
  aptPackage: string;
  binary: string;
  readyTimeoutMs: number;
  endpoint(ports: ServicePorts[N]): ServiceEndpoints[N];
  /** Writes config files into the run folder and says how to start the server. */
  launch(run: DaemonRun, ports: ServicePorts[N]): DaemonLaunch;
  /** Text of the running server's command line that proves a pid is this run's (default: the run folder). */
  marker?(run: DaemonRun, ports: ServicePorts[N]): string;
  /** One readiness probe that speaks the server's protocol; answers false quickly when nothing listens. */
  healthy(ports: ServicePorts[N]): Promise<boolean>;
}

const isRoot = () => process.getuid?.() === 0;

/** Installs the server's Debian package when running as root; otherwise says how to. */
export function ensureInstalled(server: DaemonServer<DaemonServiceName>, listening: string): void {
  if (existsSync(server.binary)) return;
  if (!isRoot()) {
    throw new ServicesError(
      "NOT_INSTALLED",
      `${server.name}: nothing answers on ${listening} and ${server.binary} is missing. Install it with ` +
        `\`sudo apt-get install -y ${server.aptPackage}\` (or run this command as root, which installs it), or ` +
        "point the tests at your own server with the port variable.",
    );
  }
  process.stderr.write(`${server.name}: installing ${server.aptPackage} (apt-get)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update"], { stdio: ["ignore", "inherit", "inherit"], env });
  // Debian starts the packaged service after install; the tests use their own instance on their own port.
  const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", server.aptPackage], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...env, RUNLEVEL: "1" },
  });
  if (install.status !== 0 || !existsSync(server.binary)) {
    throw new ServicesError("NOT_INSTALLED", `${server.name}: apt-get install ${server.aptPackage} failed`);
  }
}

export interface DaemonStartOptions {
  /** Folder of the run (default .run/services/<name>); a private server of one test file passes its own. */
  dir?: string;
  /** Keep the data of an earlier run in `dir` (a restart); default false: start afresh. */
  keepData?: boolean;
  /** Record the run in the services state (default true); private servers are not shared, so not recorded. */
  record?: boolean;
}

/** Starts the server in its folder, detached, and waits until its protocol probe answers. */
export async function startDaemon<N extends DaemonServiceName>(
  server: DaemonServer<N>,
  ports: ServicePorts[N],
  options: DaemonStartOptions = {},
): Promise<ServiceState> {
  const listening = `127.0.0.1:${Object.values(ports).join(",")}`;
  ensureInstalled(server as unknown as DaemonServer<DaemonServiceName>, listening);
  const dir = options.dir ?? serviceDir(server.name);
  if (!options.keepData) rmSync(dir, { recursive: true, force: true });
  const run: DaemonRun = { dir, dataDir: join(dir, "data"), logFile: join(dir, `${server.name}.log`) };
  mkdirSync(run.dataDir, { recursive: true });
  if (!existsSync(run.logFile)) writeFileSync(run.logFile, "");
  const launch = server.launch(run, ports);
  const marker = server.marker?.(run, ports) ?? dir;
  const started = Date.now();
  const child = spawnDetached(launch.command, launch.args, {
    cwd: dir,
    logFile: run.logFile,
    env: { ...process.env, ...launch.env },
  });
  let exit: string | undefined;
  child.once("exit", (code, signal) => {
    exit = `exited (${signal ?? `code ${code}`}) while starting`;
  });
  const outcome = await waitUntil(() => server.healthy(ports), {
    timeoutMs: server.readyTimeoutMs,
    intervalMs: 250,
    // A wrapper script exits normally once the server runs; only an exit without a pid file is a failure.
    abort: () =>
      exit !== undefined && (launch.pidFile === undefined || !existsSync(launch.pidFile)) ? exit : undefined,
  });
  const pid = launch.pidFile ? pidFrom(launch.pidFile) : (child.pid ?? 0);
  if (!outcome.ready) {
    if (pid > 0) await stopProcess(pid, marker, 5_000);
    throw new ServicesError(
      "NOT_READY",
      `${server.name}: ${outcome.reason} on ${listening}; last lines of ${run.logFile}:\n${await tailFile(run.logFile)}`,
    );
  }
  const state: ServiceState = {
    name: server.name,
    pid,
    marker,
    managedBy: "daemon",
    ports: ports as unknown as Record<string, number>,
    startedAt: new Date(started).toISOString(),
    readyAt: new Date().toISOString(),
    startMs: Date.now() - started,
    logFile: run.logFile,
  };
  if (options.record ?? true) writeState(state);
  return state;
}

function pidFrom(file: string): number {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && isAlive(pid) ? pid : 0;
  } catch {
    return 0;
  }
}
