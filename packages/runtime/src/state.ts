import { randomUUID } from "node:crypto";
import { ConnectorError, type StateStore } from "@pulsar-connect/core/host";
import { adminOf, type ConsumerLike, type ProducerLike, type PulsarConnections } from "./internal/pulsar.ts";

/** Where a connector's state lives. */
export interface PulsarStateStoreOptions {
  pulsar: PulsarConnections;
  tenant: string;
  namespace: string;
  name: string;
}

const COUNTER_PREFIX = "__counter__/";
/** Keys of the markers that end a read of the table; never state keys. */
const MARKER_PREFIX = "__pulsar-connect-read-marker__/";
const MARKER_VALUE = new Uint8Array([1]);

/** Topic holding the state of a connector. */
export function stateTopic(tenant: string, namespace: string, name: string): string {
  return `persistent://${tenant}/${namespace}/__pulsar-connect-state-${name}`;
}

/**
 * Connector state kept in a compacted Pulsar topic: each put is a message keyed by the state key (a delete is an
 * empty value), and the table is rebuilt by reading the topic at first use. State therefore survives restarts and
 * follows the connector to any worker. Writers of one key should be one instance at a time.
 */
export class PulsarStateStore implements StateStore {
  private readonly options: PulsarStateStoreOptions;
  private readonly topic: string;
  private table: Map<string, Uint8Array> | undefined;
  private loading: Promise<Map<string, Uint8Array>> | undefined;
  private producer: Promise<ProducerLike> | undefined;

  constructor(options: PulsarStateStoreOptions) {
    this.options = options;
    this.topic = stateTopic(options.tenant, options.namespace, options.name);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.load()).get(key);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const table = await this.load();
    await this.publish(key, value);
    table.set(key, value);
  }

  async delete(key: string): Promise<void> {
    const table = await this.load();
    await this.publish(key, new Uint8Array(0));
    table.delete(key);
  }

  async incrCounter(key: string, by: bigint | number): Promise<bigint> {
    const next = (await this.getCounter(key)) + BigInt(by);
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigInt64(0, next);
    await this.put(COUNTER_PREFIX + key, bytes);
    return next;
  }

  async getCounter(key: string): Promise<bigint> {
    const bytes = await this.get(COUNTER_PREFIX + key);
    if (bytes?.byteLength !== 8) return 0n;
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0);
  }

  /** Closes the producer. */
  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer).close().catch(() => {});
  }

  private async publish(key: string, value: Uint8Array): Promise<void> {
    this.producer ??= this.options.pulsar.client.createProducer({ topic: this.topic, batchingEnabled: false });
    try {
      await (await this.producer).send({ value, key });
    } catch (error) {
      this.producer = undefined;
      throw new ConnectorError("WRITE_FAILED", `cannot store state key '${key}'`, { cause: error });
    }
  }

  private load(): Promise<Map<string, Uint8Array>> {
    if (this.table) return Promise.resolve(this.table);
    this.loading ??= this.readTable().then(
      (table) => {
        this.table = table;
        return table;
      },
      (error: unknown) => {
        this.loading = undefined;
        throw new ConnectorError("READ_FAILED", `cannot read state topic ${this.topic}`, { cause: error });
      },
    );
    return this.loading;
  }

  private async readTable(): Promise<Map<string, Uint8Array>> {
    const pulsar = this.options.pulsar;
    const admin = adminOf(pulsar);
    // Make sure the topic exists and compacts itself once it holds 1 MiB.
    await admin.createTopic(this.topic).catch(() => undefined);
    await admin.setCompactionThreshold(this.topic, 1024 * 1024).catch(() => undefined);
    const consumer: ConsumerLike = await pulsar.client.subscribe({
      topic: this.topic,
      subscription: `state-reader-${process.pid}-${Date.now()}`,
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
      durable: false,
      readCompacted: true,
    });
    // The end of the table is a marker written now, after everything stored before. The topic's last message id
    // cannot tell: once compaction has run and the broker trimmed the raw ledgers, it names an empty ledger while
    // the values live on in the compacted one. A failed write fails the read, never yields an empty table.
    const marker = `${MARKER_PREFIX}${randomUUID()}`;
    const table = new Map<string, Uint8Array>();
    try {
      await this.publish(marker, MARKER_VALUE);
      for (;;) {
        const message = await consumer.receive();
        if (message.key === marker) break;
        if (message.key === undefined || message.key.startsWith(MARKER_PREFIX)) continue;
        if (message.data.byteLength === 0) table.delete(message.key);
        else table.set(message.key, message.data);
      }
    } finally {
      await consumer.close().catch(() => {});
    }
    // Compaction drops the marker once this delete is compacted too.
    await this.publish(marker, new Uint8Array(0)).catch(() => {});
    return table;
  }
}
