import { isPulsarClientError, MessageId, type Producer, type PulsarClient } from "@pulsar-connect/pulsar-client";
import { WorkerError } from "../errors.ts";
import { type ConnectorStore, type StoredConnector, storeKey } from "./connector-store.ts";

/** Who may write to the store's topic while this store holds it. */
export type PulsarStoreAccess = "Exclusive" | "ExclusiveWithFencing";

/** Settings of a {@link PulsarStore}. */
export interface PulsarStoreSettings {
  /** The client the store reads and writes with; the caller owns it (the store closes only its own producer). */
  client: Pick<PulsarClient, "createProducer" | "createReader">;
  /** The compacted topic holding one message per connector, keyed by {@link storeKey}; a removal is an empty value. */
  topic: string;
  /**
   * `Exclusive` (default): a second worker on the same topic is refused, as with a data folder's lock.
   * `ExclusiveWithFencing`: this store takes the topic over and every write of the previous holder fails from then
   * on, so that a worker that was frozen and wakes up cannot overwrite what its successor stored.
   */
  access?: PulsarStoreAccess;
  /** How long a read of the topic may wait for the next message it knows is there (30 s). */
  readTimeoutMs?: number;
}

/**
 * Connector configs and desired state in a compacted Pulsar topic: the latest message per key is the connector's
 * entry, an empty message removes it. A write resolves once the broker stored it; compaction keeps the topic as
 * small as the set of connectors, and `loadAll` reads it with `readCompacted`.
 */
export class PulsarStore implements ConnectorStore {
  private readonly settings: PulsarStoreSettings;
  private producer: Producer | undefined;

  constructor(settings: PulsarStoreSettings) {
    this.settings = settings;
  }

  async init(): Promise<void> {
    if (this.producer) return;
    const access = this.settings.access ?? "Exclusive";
    try {
      this.producer = await this.settings.client.createProducer({
        topic: this.settings.topic,
        accessMode: access,
        // One message per write: a batch would delay the write the caller waits for.
        batchingEnabled: false,
        // A write that cannot be stored must fail rather than wait forever: the manager acts only after it.
        sendTimeoutMs: 30_000,
      });
    } catch (error) {
      if (isPulsarClientError(error) && (error.code === "PRODUCER_FENCED" || error.code === "PRODUCER_BUSY")) {
        throw new WorkerError(
          "DATA_DIR_IN_USE",
          `The connector store topic ${this.settings.topic} is held by another worker: ${error.message}`,
          { cause: error },
        );
      }
      throw new WorkerError(
        "STORE_FAILED",
        `Cannot open the connector store topic ${this.settings.topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async release(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.close().catch(() => undefined);
  }

  async loadAll(): Promise<{ entries: StoredConnector[]; problems: string[] }> {
    const latest = new Map<string, Buffer>();
    const reader = await this.settings.client.createReader({
      topic: this.settings.topic,
      startMessageId: MessageId.earliest,
      readCompacted: true,
    });
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(this.settings.readTimeoutMs ?? 30_000);
        if (message.key === undefined) continue;
        if (message.data.length === 0) latest.delete(message.key);
        else latest.set(message.key, message.data);
      }
    } finally {
      await reader.close().catch(() => undefined);
    }
    const entries: StoredConnector[] = [];
    const problems: string[] = [];
    for (const [key, data] of [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      try {
        const entry = JSON.parse(data.toString("utf8")) as StoredConnector;
        if ((entry.kind !== "sink" && entry.kind !== "source") || !entry.config?.name) {
          throw new Error("unknown layout");
        }
        const { tenant, namespace, name } = entry.config;
        if (storeKey(entry.kind, tenant, namespace, name) !== key) throw new Error("the key does not name this entry");
        entry.stoppedInstances = Array.isArray(entry.stoppedInstances) ? entry.stoppedInstances : [];
        entries.push(entry);
      } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
      }
    }
    return { entries, problems };
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
      await producer.send({ key, value });
    } catch (error) {
      const fenced = isPulsarClientError(error) && error.code === "PRODUCER_FENCED";
      throw new WorkerError(
        "STORE_FAILED",
        fenced
          ? `Cannot ${what}: another worker took the connector store over (this worker was fenced)`
          : `Cannot ${what}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
