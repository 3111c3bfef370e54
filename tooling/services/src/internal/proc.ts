import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { open } from "node:fs/promises";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * True when `pid` is a live (non-zombie) process and, if `marker` is given, its command line contains it.
 * The marker guards against a recycled pid being mistaken for one of our servers.
 */
export function isAlive(pid: number, marker?: string): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  if (state === "Z" || state === "X") return false;
  if (marker === undefined) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(marker);
  } catch {
    return false;
  }
}

function statusFieldMb(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size in MB from /proc/<pid>/status (VmRSS), or undefined when the process is gone. */
export function rssMb(pid: number): number | undefined {
  return statusFieldMb(pid, "VmRSS");
}

/** Peak resident set size in MB since the process started (VmHWM). */
export function peakRssMb(pid: number): number | undefined {
  return statusFieldMb(pid, "VmHWM");
}

export interface StopResult {
  forced: boolean;
  ms: number;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function stopProcess(pid: number, marker: string | undefined, graceMs = 20_000): Promise<StopResult> {
  const started = Date.now();
  if (!isAlive(pid, marker)) return { forced: false, ms: 0 };
  signal(pid, "SIGTERM");
  while (Date.now() - started < graceMs) {
    await sleep(200);
    if (!isAlive(pid)) return { forced: false, ms: Date.now() - started };
  }
  signal(pid, "SIGKILL");
  while (isAlive(pid) && Date.now() - started < graceMs + 10_000) await sleep(100);
  return { forced: true, ms: Date.now() - started };
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

export interface DetachedOptions {
  cwd: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a process in its own session with stdout/stderr appended to `logFile`, so it outlives the caller.
 * The returned handle is unref'd: it only serves to notice an early exit while the caller still waits.
 */
export function spawnDetached(command: string, args: readonly string[], options: DetachedOptions): ChildProcess {
  const fd = openSync(options.logFile, "a");
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Last `lines` lines of a (possibly large) log file; empty when it does not exist. */
export async function tailFile(path: string, lines = 40): Promise<string> {
  if (!existsSync(path)) return "";
  const size = statSync(path).size;
  const length = Math.min(size, 64 * 1024);
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer
      .toString("utf8")
      .split("\n")
      .slice(-lines - 1)
      .join("\n")
      .trimEnd();
  } finally {
    await handle.close();
  }
}

/** Pid of the process listening on a local TCP port (via `ss`), when it can be seen. */
export function listenerPid(port: number): number | undefined {
  const result = spawnSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8", timeout: 5_000 });
  const match = result.status === 0 ? /pid=(\d+)/.exec(result.stdout) : null;
  return match ? Number(match[1]) : undefined;
}
