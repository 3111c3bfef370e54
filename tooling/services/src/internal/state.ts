import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runRoot, type ServiceName } from "./config.ts";
import { ServicesError } from "./errors.ts";
import { sleep } from "./probe.ts";
import { isAlive } from "./proc.ts";

/** What `up` records about a server it started, in .run/services/<name>/state.json. */
export interface ServiceState {
  name: ServiceName;
  pid: number;
  /** Text in the process command line that proves the pid is still ours. */
  marker?: string;
  /** How to stop it: a JVM or Debian-packaged binary we spawned, or a system database started by its Debian tooling. */
  managedBy: "jvm" | "pg_ctlcluster" | "pg_ctl" | "mariadbd" | "daemon";
  ports: Record<string, number>;
  startedAt: string;
  readyAt?: string;
  startMs?: number;
  logFile?: string;
  /** e.g. the PostgreSQL cluster version. */
  detail?: string;
}

export function serviceDir(name: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  return join(runRoot(env), name);
}

function statePath(name: ServiceName): string {
  return join(serviceDir(name), "state.json");
}

export function readState(name: ServiceName): ServiceState | undefined {
  const path = statePath(name);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ServiceState;
  } catch {
    return undefined;
  }
}

export function writeState(state: ServiceState): void {
  const path = statePath(state.name);
  mkdirSync(serviceDir(state.name), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function clearState(name: ServiceName): void {
  rmSync(statePath(name), { force: true });
}

/**
 * Serialises up/down of one service across processes (the CLI, the test runner and every vitest project's
 * global setup may ask for the same server at once). A lock whose owner died is taken over.
 */
export async function withServiceLock<T>(name: ServiceName, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(runRoot(), { recursive: true });
  const lockDir = join(runRoot(), `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "owner"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileOr(join(lockDir, "owner"), "0"));
      if (owner > 0 && !isAlive(owner)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ServicesError(
          "LOCK_TIMEOUT",
          `${name}: another process (pid ${owner || "?"}) has been starting/stopping it for too long`,
        );
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function readFileOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}
