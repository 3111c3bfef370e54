import { randomUUID } from "node:crypto";
import {
  isPulsarClientError,
  MessageId,
  type Producer,
  type PulsarClient,
  type Reader,
} from "@pulsar-connect/pulsar-client";
import { WorkerError } from "../../errors.ts";
import { integrityOf } from "../packages.ts";

/** Settings of a {@link PackageTopic}. */
export interface PackageTopicSettings {
  client: Pick<PulsarClient, "createProducer" | "createReader">;
  /** The compacted topic of package chunks, in the cluster's namespace. */
  topic: string;
}

/** The package topic of a cluster in a namespace (`tenant/namespace`), next to its other topics. */
export function packageTopicOf(namespace: string, cluster: string): string {
  return `persistent://${namespace}/pulsar-connect-${cluster}-packages`;
}

/**
 * Bytes per message: far below Pulsar's default `maxMessageSize` (5 MB), so that a broker with a lowered limit still
 * takes them.
 */
export const PACKAGE_CHUNK_BYTES: number = 512 * 1024;
const INTEGRITY = "pulsar-connect-integrity";
const CHUNKS = "pulsar-connect-chunks";
const READ_TIMEOUT_MS = 30_000;

/**
 * Set on a create or update forwarded to the leader whose `file://` archive the receiving worker read, as
 * `<integrity> <claim>`: the package's integrity in the package topic, and the claim that worker wrote next to it
 * ({@link PackageTopic.claim}). A client cannot make a claim, so a copy of the header it sends is refused.
 */
export const SHARED_PACKAGE_HEADER = "x-pulsar-connect-shared-package";

/** The key of a claim: a worker kept a package for one forwarded request ({@link PackageTopic.claim}). */
const CLAIM_PREFIX = "claim/";

/** The key of one chunk: the package's sha512 in hex (content-addressed), and the chunk's index. */
function chunkKey(integrity: string, index: number): string {
  return `${Buffer.from(integrity.replace(/^sha512-/, ""), "base64").toString("hex")}/${index}`;
}

/**
 * The connector packages of a cluster, kept in a compacted topic so that every worker can install the package a
 * stored connector names: the worker that stores the connector writes the tarball in chunks keyed by its content
 * hash ({@link put}) before the connector entry, and the others read it back ({@link get}), checking the hash.
 */
export class PackageTopic {
  private readonly settings: PackageTopicSettings;
  private producer: Promise<Producer> | undefined;

  constructor(settings: PackageTopicSettings) {
    this.settings = settings;
  }

  /** Stores a tarball; resolves once the broker stored every chunk. */
  async put(tarball: Uint8Array): Promise<string> {
    const integrity = integrityOf(tarball);
    const chunks = Math.max(1, Math.ceil(tarball.length / PACKAGE_CHUNK_BYTES));
    const producer = await this.writer();
    for (let index = 0; index < chunks; index += 1) {
      const value = Buffer.from(tarball.subarray(index * PACKAGE_CHUNK_BYTES, (index + 1) * PACKAGE_CHUNK_BYTES));
      await this.send(producer, {
        key: chunkKey(integrity, index),
        value,
        properties: { [INTEGRITY]: integrity, [CHUNKS]: String(chunks) },
      });
    }
    return integrity;
  }

  /**
   * Records that a cluster worker kept `integrity` for one request it forwards; answers the claim's random id, which
   * only the forwarded request and readers of this topic (cluster members) know.
   */
  async claim(integrity: string): Promise<string> {
    const id = randomUUID();
    await this.send(await this.writer(), { key: `${CLAIM_PREFIX}${id}`, value: integrity });
    return id;
  }

  /** Whether a claim made by {@link claim} names `integrity`. */
  async claimed(id: string, integrity: string): Promise<boolean> {
    let found: string | undefined;
    await this.scan((message) => {
      if (message.key === `${CLAIM_PREFIX}${id}`) found = message.data.toString("utf8");
    });
    return found === integrity;
  }

  /** Reads a tarball back; throws when it is missing, incomplete, or fails its integrity check. */
  async get(integrity: string): Promise<Buffer> {
    const prefix = chunkKey(integrity, 0).replace(/0$/, "");
    const parts = new Map<number, Buffer>();
    let expected = 0;
    await this.scan((message) => {
      if (!message.key?.startsWith(prefix)) return;
      const index = Number(message.key.slice(prefix.length));
      // An empty value removes the chunk (the package was deleted).
      if (message.data.length === 0) {
        parts.delete(index);
        return;
      }
      parts.set(index, message.data);
      expected = Number(message.properties[CHUNKS] ?? 0);
    });
    if (parts.size === 0) {
      throw new WorkerError(
        "BAD_PACKAGE",
        `Connector package ${integrity} is not in the cluster's package topic; submit the connector again with its package`,
      );
    }
    const ordered = Array.from({ length: expected }, (_, index) => parts.get(index));
    if (expected === 0 || ordered.some((part) => part === undefined)) {
      throw new WorkerError(
        "BAD_PACKAGE",
        `Connector package ${integrity} is incomplete in the cluster's package topic (${parts.size} of ${expected} chunks)`,
      );
    }
    const tarball = Buffer.concat(ordered as Buffer[]);
    if (integrityOf(tarball) !== integrity) {
      throw new WorkerError(
        "BAD_PACKAGE",
        `Connector package ${integrity} read from the cluster's package topic fails its integrity check`,
      );
    }
    return tarball;
  }

  /** Removes a tarball of `bytes` bytes (a tombstone per chunk; compaction then drops the bytes). */
  async remove(integrity: string, bytes: number): Promise<void> {
    const chunks = Math.max(1, Math.ceil(bytes / PACKAGE_CHUNK_BYTES));
    const producer = await this.writer();
    for (let index = 0; index < chunks; index += 1) {
      await this.send(producer, { key: chunkKey(integrity, index), value: "" });
    }
  }

  /**
   * Tombstones the chunks of every package `inUse` does not name whose newest chunk is older than `graceMs` (an
   * upload still in progress, or a connector not stored yet, is younger), and the claims older than that: what a
   * worker that died during an upload, or a request refused after its package was kept, leaves behind. Answers the
   * integrities removed.
   */
  async removeUnused(inUse: ReadonlySet<string>, graceMs: number, now: number = Date.now()): Promise<string[]> {
    const chunks = new Map<string, { integrity: string; publishTime: number }>();
    const claims = new Map<string, number>();
    await this.scan((message) => {
      const key = message.key;
      if (key === undefined) return;
      if (message.data.length === 0) {
        chunks.delete(key);
        claims.delete(key);
      } else if (key.startsWith(CLAIM_PREFIX)) {
        claims.set(key, message.publishTime);
      } else {
        const integrity = message.properties[INTEGRITY];
        if (integrity !== undefined) chunks.set(key, { integrity, publishTime: message.publishTime });
      }
    });
    const newest = new Map<string, number>();
    for (const { integrity, publishTime } of chunks.values()) {
      newest.set(integrity, Math.max(newest.get(integrity) ?? 0, publishTime));
    }
    const removed = [...newest].filter(([integrity, time]) => !inUse.has(integrity) && now - time > graceMs);
    const gone = new Set(removed.map(([integrity]) => integrity));
    const keys = [
      ...[...chunks].filter(([, chunk]) => gone.has(chunk.integrity)).map(([key]) => key),
      ...[...claims].filter(([, time]) => now - time > graceMs).map(([key]) => key),
    ];
    if (keys.length > 0) {
      const producer = await this.writer();
      for (const key of keys) await this.send(producer, { key, value: "" });
    }
    return [...gone];
  }

  /** Reads the topic from its start (compacted) to its end, message by message. */
  private async scan(
    each: (message: {
      key?: string | undefined;
      data: Buffer;
      properties: Record<string, string>;
      publishTime: number;
    }) => void,
  ): Promise<void> {
    let reader: Reader;
    try {
      reader = await this.settings.client.createReader({
        topic: this.settings.topic,
        startMessageId: MessageId.earliest,
        readCompacted: true,
      });
    } catch (error) {
      throw new WorkerError(
        "STORE_FAILED",
        `Cannot read the cluster's package topic ${this.settings.topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      while (await reader.hasMessageAvailable()) each(await reader.readNext(READ_TIMEOUT_MS));
    } finally {
      await reader.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined);
    this.producer = undefined;
    await producer?.close().catch(() => undefined);
  }

  private writer(): Promise<Producer> {
    if (!this.producer) {
      this.producer = this.settings.client.createProducer({
        topic: this.settings.topic,
        batchingEnabled: false,
        sendTimeoutMs: 30_000,
      });
      this.producer.catch(() => {
        this.producer = undefined;
      });
    }
    return this.producer;
  }

  private async send(producer: Producer, message: Parameters<Producer["send"]>[0]): Promise<void> {
    try {
      await producer.send(message);
    } catch (error) {
      if (isPulsarClientError(error)) {
        this.producer = undefined;
        void producer.close().catch(() => undefined);
      }
      throw new WorkerError(
        "STORE_FAILED",
        `Cannot store a connector package in the cluster's package topic: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
