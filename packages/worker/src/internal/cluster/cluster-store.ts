import {
  isPulsarClientError,
  MessageId,
  type Producer,
  type PulsarClient,
  type Reader,
} from "@pulsar-connect/pulsar-client";
import { WorkerError } from "../../errors.ts";
import { type ConnectorStore, type StoredConnector, storeKey } from "../connector-store.ts";

/** A change another worker stored: the connector's new entry, or its removal. */
export type StoreChange =
  | { key: string; entry: StoredConnector }
  | { key: string; removed: { kind: StoredConnector["kind"]; tenant: string; namespace: string; name: string } };

/** Settings of a {@link ClusterStore}. */
export interface ClusterStoreSettings {
  client: Pick<PulsarClient, "createProducer" | "createReader">;
  /** The compacted topic of connector entries, keyed by {@link storeKey}; an empty value removes one. */
  topic: string;
  /** Names this worker's writes, so that its reader skips its own changes (it applied them already). */
  writerId: string;
}

const WRITER_PROPERTY = "pulsar-connect-writer";

function parseKey(key: string): { kind: StoredConnector["kind"]; tenant: string; namespace: string; name: string } {
  const [kind, tenant, namespace, name] = key.split("~").map((part) => decodeURIComponent(part));
  if ((kind !== "sink" && kind !== "source") || !tenant || !namespace || !name) throw new Error("unknown key layout");
  return { kind, tenant, namespace, name };
}

function parseEntry(key: string, data: Buffer): StoredConnector {
  const entry = JSON.parse(data.toString("utf8")) as StoredConnector;
  if ((entry.kind !== "sink" && entry.kind !== "source") || !entry.config?.name) throw new Error("unknown layout");
  const { tenant, namespace, name } = entry.config;
  if (storeKey(entry.kind, tenant, namespace, name) !== key) throw new Error("the key does not name this entry");
  entry.stoppedInstances = Array.isArray(entry.stoppedInstances) ? entry.stoppedInstances : [];
  return entry;
}

/**
 * The connector store of a cluster: one compacted topic that every worker reads to its end at start
 * ({@link loadAll}) and then follows ({@link follow}), applying what the others store. Writes resolve once the
 * broker stored them.
 */
export class ClusterStore implements ConnectorStore {
  private readonly settings: ClusterStoreSettings;
  private producer: Producer | undefined;
  private reader: Reader | undefined;
  private closed = false;

  constructor(settings: ClusterStoreSettings) {
    this.settings = settings;
  }

  async init(): Promise<void> {
    if (this.producer) return;
    try {
      this.producer = await this.settings.client.createProducer({
        topic: this.settings.topic,
        batchingEnabled: false,
        sendTimeoutMs: 30_000,
      });
      this.reader = await this.settings.client.createReader({
        topic: this.settings.topic,
        startMessageId: MessageId.earliest,
        readCompacted: true,
      });
    } catch (error) {
      await this.release();
      throw new WorkerError(
        "STORE_FAILED",
        `Cannot open the cluster's connector store topic ${this.settings.topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async release(): Promise<void> {
    this.closed = true;
    const { producer, reader } = this;
    this.producer = undefined;
    this.reader = undefined;
    await Promise.all([producer?.close().catch(() => undefined), reader?.close().catch(() => undefined)]);
  }

  /** Reads the topic to its end; {@link follow} continues from there. */
  async loadAll(): Promise<{ entries: StoredConnector[]; problems: string[] }> {
    const reader = this.reader;
    if (!reader) throw new WorkerError("STORE_FAILED", "The connector store is not open");
    const latest = new Map<string, Buffer>();
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(30_000);
      if (message.key === undefined) continue;
      if (message.data.length === 0) latest.delete(message.key);
      else latest.set(message.key, message.data);
    }
    const entries: StoredConnector[] = [];
    const problems: string[] = [];
    for (const [key, data] of [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      try {
        entries.push(parseEntry(key, data));
      } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
      }
    }
    return { entries, problems };
  }

  /** Hands every change stored by another worker to `apply`, in order, until the store is released. */
  async follow(apply: (change: StoreChange) => Promise<void>, onProblem: (problem: string) => void): Promise<void> {
    while (!this.closed) {
      const reader = this.reader;
      if (!reader) return;
      let message: Awaited<ReturnType<Reader["readNext"]>>;
      try {
        message = await reader.readNext(1_000);
      } catch (error) {
        if (this.closed) return;
        if (!(isPulsarClientError(error) && error.code === "TIMEOUT")) {
          onProblem(`reading the connector store failed: ${(error as Error).message}`);
          await new Promise((done) => setTimeout(done, 500));
        }
        continue;
      }
      const key = message.key;
      if (key === undefined || message.properties[WRITER_PROPERTY] === this.settings.writerId) continue;
      try {
        if (message.data.length === 0) await apply({ key, removed: parseKey(key) });
        else await apply({ key, entry: parseEntry(key, message.data) });
      } catch (error) {
        onProblem(`${key}: ${(error as Error).message}`);
      }
    }
  }

  async save(entry: StoredConnector): Promise<void> {
    const { tenant, namespace, name } = entry.config;
    await this.write(
      storeKey(entry.kind, tenant, namespace, name),
      JSON.stringify(entry),
      `persist ${entry.kind} ${name}`,
    );
  }

  async remove(kind: StoredConnector["kind"], tenant: string, namespace: string, name: string): Promise<void> {
    await this.write(storeKey(kind, tenant, namespace, name), "", `delete ${kind} ${name}`);
  }

  private async write(key: string, value: string, what: string): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new WorkerError("STORE_FAILED", `Cannot ${what}: the connector store is not open`);
    try {
      await producer.send({ key, value, properties: { [WRITER_PROPERTY]: this.settings.writerId } });
    } catch (error) {
      throw new WorkerError("STORE_FAILED", `Cannot ${what}: ${(error as Error).message}`, { cause: error });
    }
  }
}
