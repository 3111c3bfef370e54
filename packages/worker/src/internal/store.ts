import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ResolvedSinkConfig, ResolvedSourceConfig } from "@pulsar-connect/runtime";
import { WorkerError } from "../errors.ts";

/** What the worker persists per connector: its config and the desired state of each instance. */
export type StoredConnector =
  | { kind: "sink"; config: ResolvedSinkConfig; stoppedInstances: number[] }
  | { kind: "source"; config: ResolvedSourceConfig; stoppedInstances: number[] };

function fileName(kind: string, tenant: string, namespace: string, name: string): string {
  return `${kind}~${encodeURIComponent(tenant)}~${encodeURIComponent(namespace)}~${encodeURIComponent(name)}.json`;
}

/** A folder of JSON files, one per connector, each replaced atomically (write to a temp file, then rename). */
export class FileStore {
  private readonly dir: string;
  private readonly lockFile: string;
  private sequence = 0;
  private locked = false;

  constructor(dataDir: string) {
    this.dir = join(dataDir, "connectors");
    this.lockFile = join(dataDir, "worker.lock");
  }

  /** Creates the folder and takes the data folder's lock: two workers on one store would fight over instances. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await writeFile(this.lockFile, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const owner = Number((await readFile(this.lockFile, "utf8").catch(() => "")).trim());
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new WorkerError(
          "DATA_DIR_IN_USE",
          `The data folder ${join(this.dir, "..")} is used by another worker (process ${owner}); give each worker its own dataDir`,
        );
      }
      // The previous owner died without releasing the lock.
      await rm(this.lockFile, { force: true });
    }
    throw new WorkerError("DATA_DIR_IN_USE", `Cannot lock the data folder ${join(this.dir, "..")}`);
  }

  /** Releases the data folder's lock. */
  async release(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
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

  async save(entry: StoredConnector): Promise<void> {
    const { tenant, namespace, name } = entry.config;
    const target = join(this.dir, fileName(entry.kind, tenant, namespace, name));
    const temp = `${target}.${process.pid}.${++this.sequence}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw new WorkerError("STORE_FAILED", `Cannot persist ${entry.kind} ${name}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async remove(kind: string, tenant: string, namespace: string, name: string): Promise<void> {
    await rm(join(this.dir, fileName(kind, tenant, namespace, name)), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
