import {
  isPulsarClientError,
  MessageId,
  type Producer,
  type PulsarClient,
  type Reader,
} from "@pulsar-connect/pulsar-client";
import { WorkerError } from "../../errors.ts";
import { type ConnectorStore, type StoredConnector, storeKey } from "../connector-store.ts";

/** A change read from the store: the connector's new entry, or its removal. */
export type StoreChange =
  | { key: string; entry: StoredConnector }
  | { key: string; removed: { kind: StoredConnector["kind"]; tenant: string; namespace: string; name: string } };

/** Settings of a {@link ClusterStore}. */
export interface ClusterStoreSettings {
  client: Pick<PulsarClient, "createProducer" | "createReader">;
  /** The compacted topic of connector entries, keyed by {@link storeKey}; an empty value removes one. */
  topic: string;
  /** Names this worker's writes, so that its reader knows which changes it applied already. */
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
 * ({@link loadAll}) and then follows ({@link follow}). Only the leader writes: it takes the topic's
 * ExclusiveWithFencing producer with the leadership ({@link takeWriter}) and lets writes through once its leadership
 * outlived the take ({@link openWriter}), so a deposed leader's late writes fail. A worker that lost the leadership
 * may still take the producer after the leader did; the leader then finds its writer lost ({@link writerLost}) and
 * takes it again. Writes resolve once the broker stored them. Every worker ends with the topic's last record for each
 * key: the writer applies its own change at once, and skips the records read back before its last write of that key.
 */
export class ClusterStore implements ConnectorStore {
  private readonly settings: ClusterStoreSettings;
  private producer: Producer | undefined;
  /** Whether writes go through the producer: set once the leadership was confirmed after it was taken. */
  private writable = false;
  /** Why the producer can no longer write (fenced by another worker, closed), when a write found out. */
  private lostBecause: string | undefined;
  private reader: Reader | undefined;
  private closed = false;
  /** Per key, how many of this worker's writes were sent and not read back yet. */
  private readonly pending = new Map<string, number>();
  /** A change read and being applied: {@link caughtUp} waits for it. */
  private applying = false;

  constructor(settings: ClusterStoreSettings) {
    this.settings = settings;
  }

  async init(): Promise<void> {
    if (this.producer) return;
    try {
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

  /**
   * Takes the topic's ExclusiveWithFencing producer (again, with a new fencing epoch, when it holds a lost one): the
   * previous holder's later writes fail. Writes wait for {@link openWriter}.
   */
  async takeWriter(): Promise<void> {
    if (this.closed) throw new WorkerError("NOT_READY", "The connector store is closed");
    await this.dropWriter();
    let producer: Producer;
    try {
      producer = await this.settings.client.createProducer({
        topic: this.settings.topic,
        accessMode: "ExclusiveWithFencing",
        batchingEnabled: false,
        sendTimeoutMs: 10_000,
      });
    } catch (error) {
      throw new WorkerError(
        "STORE_FAILED",
        `Cannot become the writer of the connector store topic ${this.settings.topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (this.closed) {
      await producer.close().catch(() => undefined);
      throw new WorkerError("NOT_READY", "The connector store is closed");
    }
    await this.dropWriter();
    this.producer = producer;
  }

  /** Lets writes through the producer taken last: the leadership was confirmed after {@link takeWriter}. */
  openWriter(): void {
    if (this.producer) this.writable = true;
  }

  /** Whether this worker took the writer and lost it since (fenced by another worker, or closed by the client). */
  writerLost(): boolean {
    const producer = this.producer;
    return producer !== undefined && (this.lostBecause !== undefined || producer.isClosed);
  }

  /** Stops writing (the leadership was given up). */
  async dropWriter(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.writable = false;
    this.lostBecause = undefined;
    await producer?.close().catch(() => undefined);
  }

  /** Resolves once every change stored before now was read and applied; rejects after `timeoutMs`. */
  async caughtUp(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const reader = this.reader;
      if (!reader) throw new WorkerError("NOT_READY", "The connector store is not open");
      if (!this.applying && !(await reader.hasMessageAvailable()) && !this.applying) return;
      if (performance.now() > deadline) {
        throw new WorkerError("NOT_READY", `The connector store could not be read to its end in ${timeoutMs} ms`);
      }
      await new Promise((done) => setTimeout(done, 20));
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

  /**
   * Hands the changes read to `apply`, in order, until the store is released: every change but this worker's own
   * ones read back before its latest write of the same key (that write decides; it was applied already).
   */
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
      if (key === undefined) continue;
      const waiting = this.pending.get(key) ?? 0;
      if (message.properties[WRITER_PROPERTY] === this.settings.writerId && waiting > 0) {
        if (waiting > 1) this.pending.set(key, waiting - 1);
        else this.pending.delete(key);
      }
      // A write of this worker to the key is still on its way: it comes later in the topic and decides.
      if ((this.pending.get(key) ?? 0) > 0) continue;
      this.applying = true;
      try {
        if (message.data.length === 0) await apply({ key, removed: parseKey(key) });
        else await apply({ key, entry: parseEntry(key, message.data) });
      } catch (error) {
        onProblem(`${key}: ${(error as Error).message}`);
      } finally {
        this.applying = false;
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
    if (!producer) {
      throw new WorkerError("NOT_READY", `Cannot ${what}: this worker does not lead the cluster; retry shortly`);
    }
    if (this.writerLost()) {
      throw new WorkerError(
        "NOT_READY",
        `Cannot ${what}: the writer of the connector store was lost (${this.lostBecause ?? "its producer was closed"}) and is being taken again; retry shortly`,
      );
    }
    if (!this.writable) {
      throw new WorkerError(
        "NOT_READY",
        `Cannot ${what}: this worker is taking the leadership and the connector store's writer; retry shortly`,
      );
    }
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    try {
      await producer.send({ key, value, properties: { [WRITER_PROPERTY]: this.settings.writerId } });
    } catch (error) {
      // Not stored (or not known to be): the records read back decide.
      const waiting = (this.pending.get(key) ?? 1) - 1;
      if (waiting > 0) this.pending.set(key, waiting);
      else this.pending.delete(key);
      // Fenced by another worker's producer (the new leader's, or a deposed one's late take) or closed after that: the
      // leader takes the writer again, or gives the leadership up when it cannot.
      if (isPulsarClientError(error) && (error.code === "PRODUCER_FENCED" || error.code === "CLOSED")) {
        if (this.producer === producer) this.lostBecause ??= error.message;
        throw new WorkerError(
          "NOT_READY",
          `Cannot ${what}: the writer of the connector store was lost (${error.message}); the leader takes it again or another worker leads; retry shortly`,
          { cause: error },
        );
      }
      throw new WorkerError("STORE_FAILED", `Cannot ${what}: ${(error as Error).message}`, { cause: error });
    }
  }
}
