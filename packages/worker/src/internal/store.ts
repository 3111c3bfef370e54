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
  private sequence = 0;

  constructor(dataDir: string) {
    this.dir = join(dataDir, "connectors");
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
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
