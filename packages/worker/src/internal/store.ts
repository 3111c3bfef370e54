import { readFileSync } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { WorkerError } from "../errors.ts";
import { type ConnectorStore, type StoredConnector, storeKey } from "./connector-store.ts";

function fileName(kind: StoredConnector["kind"], tenant: string, namespace: string, name: string): string {
  return `${storeKey(kind, tenant, namespace, name)}.json`;
}

/** Who holds a data folder: a process id is reused (containers restart as the same PID), the stamp is not. */
export interface LockStamp {
  pid: number;
  /** The kernel's boot id (Linux); another boot means the holder is gone. */
  bootId?: string;
  /** Start time of the process in clock ticks since boot (Linux `/proc/<pid>/stat`). */
  startTime?: string;
}

/** Data folders this process has locked (two workers in one process must not share one either). */
const heldHere = new Set<string>();

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Fields 3 and on of /proc/<pid>/stat, undefined where /proc is missing. */
function statFields(pid: number): string[] | undefined {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Start time of a process (field 22 of /proc/<pid>/stat), undefined where /proc is missing. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/**
 * Whether a process has ended but was not reaped yet (state Z or X, field 3): a killed worker whose parent died too
 * stays a zombie until init reaps it, and `kill(pid, 0)` still succeeds for it.
 */
export function processEnded(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state === "Z" || state === "X";
}

export function ownStamp(): LockStamp {
  const stamp: LockStamp = { pid: process.pid };
  const bootId = readOptional("/proc/sys/kernel/random/boot_id")?.trim();
  if (bootId) stamp.bootId = bootId;
  const startTime = processStartTime(process.pid);
  if (startTime) stamp.startTime = startTime;
  return stamp;
}

/** Reads a lock file: the JSON stamp, or a bare process id (older workers). */
function parseStamp(text: string): LockStamp | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as Partial<LockStamp>;
    return Number.isInteger(value.pid) && (value.pid as number) > 0 ? (value as LockStamp) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `stamp` still runs; a reused PID (same PID, other start or boot) does not. */
export function holderAlive(stamp: LockStamp, own: LockStamp = ownStamp()): boolean {
  if (stamp.bootId && own.bootId && stamp.bootId !== own.bootId) return false;
  // Our own PID: not another live worker (this process's own locks are tracked in memory).
  if (stamp.pid === own.pid) return false;
  try {
    process.kill(stamp.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (processEnded(stamp.pid)) return false;
  if (stamp.startTime) {
    const current = processStartTime(stamp.pid);
    if (current !== undefined && current !== stamp.startTime) return false;
  }
  return true;
}

/** Writes `data` to `path` and forces it to disk. */
async function writeDurably(path: string, data: string, flag: "w" | "wx"): Promise<void> {
  const handle = await open(path, flag, 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Forces a folder's entries (a rename, a new or removed file) to disk. */
async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync: there the rename itself is not flushed.
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A folder of JSON files, one per connector, each replaced atomically (write to a temp file, then rename). */
export class FileStore implements ConnectorStore {
  private readonly dir: string;
  private readonly lockFile: string;
  private sequence = 0;
  private locked = false;

  constructor(dataDir: string) {
    this.dir = join(dataDir, "connectors");
    this.lockFile = join(dataDir, "worker.lock");
  }

  /**
   * Creates the folder, takes the data folder's lock (two workers on one store would fight over instances) and
   * removes temporary files a crash left behind.
   */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const key = resolve(this.lockFile);
    if (heldHere.has(key)) throw this.inUse(`this process (${process.pid})`);
    const own = ownStamp();
    const content = `${JSON.stringify(own)}\n`;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        await writeDurably(this.lockFile, content, "wx");
        heldHere.add(key);
        this.locked = true;
        await syncDir(join(this.dir, ".."));
        await this.removeLeftovers();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const text = await readFile(this.lockFile, "utf8").catch(() => undefined);
      if (text === undefined) continue;
      const holder = parseStamp(text);
      if (holder && holderAlive(holder, own)) throw this.inUse(`process ${holder.pid}`);
      await this.takeOver(text);
    }
    throw new WorkerError("DATA_DIR_IN_USE", `Cannot lock the data folder ${join(this.dir, "..")}`);
  }

  private inUse(holder: string): WorkerError {
    return new WorkerError(
      "DATA_DIR_IN_USE",
      `The data folder ${join(this.dir, "..")} is used by another worker (${holder}); give each worker its own dataDir`,
    );
  }

  /**
   * Moves a stale lock aside. Another worker may have replaced it meanwhile: then the moved file is that worker's
   * fresh lock, which is put back so that the next attempt sees it.
   */
  private async takeOver(stale: string): Promise<void> {
    const aside = `${this.lockFile}.${process.pid}.stale`;
    try {
      await rename(this.lockFile, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const moved = await readFile(aside, "utf8").catch(() => stale);
    if (moved !== stale) await link(aside, this.lockFile).catch(() => undefined);
    await rm(aside, { force: true });
  }

  /** Temporary files of writes a crash interrupted; only the lock holder may remove them. */
  private async removeLeftovers(): Promise<void> {
    for (const file of await readdir(this.dir)) {
      if (file.endsWith(".tmp")) await rm(join(this.dir, file), { force: true });
    }
  }

  /** Releases the data folder's lock. */
  async release(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    heldHere.delete(resolve(this.lockFile));
    await rm(this.lockFile, { force: true });
  }

  async loadAll(): Promise<{ entries: StoredConnector[]; problems: string[] }> {
    const entries: StoredConnector[] = [];
    const problems: string[] = [];
    for (const file of (await readdir(this.dir)).sort()) {
      if (!file.endsWith(".json")) continue;
      try {
        const entry = JSON.parse(await readFile(join(this.dir, file), "utf8")) as StoredConnector;
        if ((entry.kind !== "sink" && entry.kind !== "source") || !entry.config?.name)
          throw new Error("unknown layout");
        entry.stoppedInstances = Array.isArray(entry.stoppedInstances) ? entry.stoppedInstances : [];
        entries.push(entry);
      } catch (error) {
        problems.push(`${file}: ${(error as Error).message}`);
      }
    }
    return { entries, problems };
  }

  /** Replaces a connector's file atomically and durably: temp file, fsync, rename, fsync of the folder. */
  async save(entry: StoredConnector): Promise<void> {
    const { tenant, namespace, name } = entry.config;
    const target = join(this.dir, fileName(entry.kind, tenant, namespace, name));
    const temp = `${target}.${process.pid}.${++this.sequence}.tmp`;
    try {
      await writeDurably(temp, `${JSON.stringify(entry, null, 2)}\n`, "w");
      await rename(temp, target);
      await syncDir(this.dir);
    } catch (error) {
      await rm(temp, { force: true });
      throw new WorkerError("STORE_FAILED", `Cannot persist ${entry.kind} ${name}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async remove(kind: StoredConnector["kind"], tenant: string, namespace: string, name: string): Promise<void> {
    await rm(join(this.dir, fileName(kind, tenant, namespace, name)), { force: true });
    await syncDir(this.dir);
  }
}
