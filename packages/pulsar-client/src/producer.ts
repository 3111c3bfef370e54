import { PulsarClientError, toPulsarClientError } from "./errors.ts";
import { Backoff, sleep } from "./internal/backoff.ts";
import { type BatchInput, buildBatch } from "./internal/batch.ts";
import { COMPRESSION_CODES, type CompressionType, compress, compressionUnavailable } from "./internal/compression.ts";
import type { Connection, ProducerHandler } from "./internal/connection.ts";
import { serverErrorName } from "./internal/errors-map.ts";
import { type HashingScheme, partitionForKey } from "./internal/hash.ts";
import type { ConnectionPool } from "./internal/pool.ts";
import { Writer } from "./internal/protobuf.ts";
import {
  type BaseCommandPb,
  CommandType,
  type KeyValuePb,
  type MessageMetadataPb,
  type SchemaInfoPb,
} from "./internal/schema.ts";
import { MessageId } from "./message-id.ts";
import { type SchemaInfo, schemaToPb } from "./schema-info.ts";
import type { Transaction } from "./transaction.ts";

export type ProducerAccessMode = "Shared" | "Exclusive" | "WaitForExclusive" | "ExclusiveWithFencing";
const ACCESS_MODES: Record<ProducerAccessMode, number> = {
  Shared: 0,
  Exclusive: 1,
  WaitForExclusive: 2,
  ExclusiveWithFencing: 3,
};

export interface ProducerOptions {
  topic: string;
  /** Stable name, required for deduplication across restarts. Broker-generated when absent. */
  producerName?: string;
  /** Time a message may wait for its receipt; 0 = forever (recommended with deduplication). Default 30000. */
  sendTimeoutMs?: number;
  batchingEnabled?: boolean;
  batchingMaxMessages?: number;
  batchingMaxBytes?: number;
  batchingMaxPublishDelayMs?: number;
  /**
   * Also send the open batch as soon as a turn of the event loop adds nothing to it (false): messages sent together
   * still share a batch, but a message is not held for `batchingMaxPublishDelayMs` when no more are coming, so the
   * batching delay follows the rate instead of being added to every message at low rates. While two sends already
   * wait for their receipt, the batch waits for one of them (or the delay) and keeps growing.
   */
  batchingFlushWhenIdle?: boolean;
  /** "KEY_BASED" puts only messages with the same key in a batch (needed for Key_Shared consumers). */
  batchingType?: "DEFAULT" | "KEY_BASED";
  compressionType?: CompressionType;
  /** Messages waiting for a receipt (queued + in flight) before send() waits. Default 1000. */
  maxPendingMessages?: number;
  schema?: SchemaInfo;
  accessMode?: ProducerAccessMode;
  /**
   * Split messages larger than the broker's max message size (or `chunkMaxMessageSize`) into chunks that consumers
   * reassemble. Chunked messages are never batched. Default false: such messages fail with MESSAGE_TOO_BIG.
   */
  chunkingEnabled?: boolean;
  /** Chunk payload size limit in bytes (defaults to the broker's max message size). */
  chunkMaxMessageSize?: number;
  /** How often a partitioned producer checks for added partitions; 0 disables. Default 60000. */
  autoUpdatePartitionsIntervalMs?: number;
  /** Key -> partition hash of the Java client's default router. Default "JavaStringHash", as in the Java client. */
  hashingScheme?: HashingScheme;
  properties?: Record<string, string>;
}

export interface ProducerMessage {
  value: Uint8Array | Buffer | string;
  key?: string;
  /**
   * Binary key, sent base64-encoded with the metadata flag that says so (the Java client's `keyBytes`). A KeyValue
   * schema with SEPARATED encoding carries its encoded key here and the encoded value in `value`.
   */
  keyBytes?: Uint8Array;
  orderingKey?: Uint8Array;
  properties?: Record<string, string>;
  /** Milliseconds since the epoch. */
  eventTime?: number;
  /** Explicit sequence id (deduplication); must increase per producer and partition. */
  sequenceId?: bigint;
  /** Deliver no earlier than this time (ms since epoch); Shared/Key_Shared subscriptions only. */
  deliverAt?: number;
  txn?: Transaction;
  /**
   * Index of the partition to send to on a partitioned topic, instead of the router's choice (key hash, else
   * round-robin). Used where the partition must not depend on send order, e.g. sequence ids kept per partition.
   */
  partition?: number;
}

/** A message with its key in wire form: `key` is base64 when it came from `keyBytes`. */
type OutgoingMessage = ProducerMessage & { keyIsBase64?: boolean };

/** Whether a schema is a KeyValue schema whose key travels in the message key. */
function separatedKeyValue(schema: SchemaInfo | undefined): boolean {
  return schema?.type === "KEY_VALUE" && schema.properties?.["kv.encoding.type"] === "SEPARATED";
}

/** @internal what producers need from the client */
export interface ClientContext {
  pool: ConnectionPool;
  operationTimeoutMs: number;
  nextId(): bigint;
  track(closable: { close(): Promise<void> }): void;
  untrack(closable: { close(): Promise<void> }): void;
  partitions(topic: string): Promise<number>;
  listTopics(namespace: string): Promise<string[]>;
  readonly closed: boolean;
}

interface Resolver {
  resolve(id: MessageId): void;
  reject(err: PulsarClientError): void;
}

interface OpSend {
  sequenceId: bigint;
  highestSequenceId: bigint;
  numMessages: number;
  metadata: MessageMetadataPb;
  payload: Buffer;
  resolvers: Resolver[];
  createdAt: number;
  txn: Transaction | undefined;
  /** Set on the chunks of a chunked message; the last chunk carries the resolver. */
  isChunk?: boolean;
}

interface BatchItem {
  metadata: BatchInput["metadata"];
  payload: Uint8Array;
  sequenceId: bigint;
  resolver: Resolver;
}

type State = "connecting" | "ready" | "closing" | "closed";

/** Sends in flight up to which an idle producer (batchingFlushWhenIdle) sends its open batch at once. */
const IDLE_FLUSH_WINDOW = 2;

type ResolvedProducerOptions = Required<
  Pick<
    ProducerOptions,
    | "sendTimeoutMs"
    | "batchingEnabled"
    | "batchingMaxMessages"
    | "batchingMaxBytes"
    | "batchingMaxPublishDelayMs"
    | "compressionType"
    | "accessMode"
  >
> &
  ProducerOptions;

function toBuffer(value: Uint8Array | Buffer | string): Buffer {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new PulsarClientError("INVALID_CONFIG", "message value must be a Buffer, Uint8Array or string");
}

function props(p: Record<string, string> | undefined): KeyValuePb[] | undefined {
  if (!p) return undefined;
  const entries = Object.entries(p);
  return entries.length === 0 ? undefined : entries.map(([key, value]) => ({ key, value: String(value) }));
}

/** Waiters for a bounded number of slots, released in FIFO order. */
class Semaphore {
  private used = 0;
  private readonly waiters: Array<() => void> = [];
  readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  tryAcquire(): boolean {
    if (this.used < this.size && this.waiters.length === 0) {
      this.used++;
      return true;
    }
    return false;
  }
  async acquire(): Promise<void> {
    if (this.used < this.size && this.waiters.length === 0) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(n = 1): void {
    for (let i = 0; i < n; i++) {
      const w = this.waiters.shift();
      if (w) w();
      else this.used = Math.max(0, this.used - 1);
    }
  }
  failAll(): void {
    // Wake everyone; callers re-check the producer state after acquiring.
    while (this.waiters.length) this.waiters.shift()!();
  }
}

/** Producer for one topic partition (or a non-partitioned topic). */
export class PartitionProducer implements ProducerHandler {
  readonly topic: string;
  readonly partition: number;
  readonly producerId: bigint;
  producerName: string | undefined;
  lastSequenceId = -1n;
  private nextSequenceId: bigint | undefined;
  private state: State = "connecting";
  private conn: Connection | undefined;
  private epoch = 0n;
  private readonly pending: OpSend[] = [];
  private batch: BatchItem[] = [];
  private batchBytes = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private idleFlush: NodeJS.Immediate | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff(100, 10_000);
  private readonly userProvidedName: boolean;
  private readonly schemaPb: SchemaInfoPb | undefined;
  /** A KeyValue schema with SEPARATED encoding: keys come as `keyBytes` only. */
  readonly separatedKeyValue: boolean;
  schemaVersion: Buffer | undefined;
  private readonly batchWriter = new Writer(64 * 1024);
  private readonly txnPartitionsAdded = new WeakSet<Transaction>();
  private drainWaiters: Array<() => void> = [];
  private reconnecting = false;
  private topicEpoch: bigint | undefined;

  private readonly ctx: ClientContext;
  private readonly opts: ResolvedProducerOptions;
  private readonly slots: Semaphore;

  constructor(ctx: ClientContext, opts: ResolvedProducerOptions, topic: string, partition: number, slots: Semaphore) {
    this.ctx = ctx;
    this.opts = opts;
    this.slots = slots;
    this.topic = topic;
    this.partition = partition;
    this.producerId = ctx.nextId();
    this.producerName = opts.producerName;
    this.userProvidedName = opts.producerName !== undefined;
    this.schemaPb = schemaToPb(opts.schema);
    this.separatedKeyValue = separatedKeyValue(opts.schema);
  }

  get maxMessageSize(): number {
    return this.conn?.maxMessageSize ?? 5 * 1024 * 1024;
  }

  get isConnected(): boolean {
    return this.state === "ready";
  }

  /** Closed for good: by its owner, or by the broker (fenced, topic terminated or deleted); sends fail from now on. */
  get isClosed(): boolean {
    return this.state === "closed" || this.state === "closing";
  }

  /** First connection; rejects on non-retryable errors or when the operation timeout passes. */
  async start(): Promise<void> {
    const deadline = Date.now() + this.ctx.operationTimeoutMs;
    for (;;) {
      try {
        await this.connectOnce();
        break;
      } catch (err) {
        const e = toPulsarClientError(err, "CONNECTION_FAILED");
        if (!e.retryable || Date.now() + 100 > deadline || this.ctx.closed) {
          this.state = "closed";
          throw e;
        }
        await sleep(Math.min(this.backoff.next(), Math.max(0, deadline - Date.now())));
      }
    }
    if (this.opts.sendTimeoutMs > 0) {
      this.timeoutTimer = setInterval(() => this.checkSendTimeouts(), Math.min(this.opts.sendTimeoutMs, 1000));
      this.timeoutTimer.unref();
    }
  }

  private async connectOnce(): Promise<void> {
    const conn = await this.ctx.pool.connectionForTopic(this.topic);
    const requestId = conn.newRequestId();
    const producer: NonNullable<BaseCommandPb["producer"]> = {
      topic: this.topic,
      producerId: this.producerId,
      requestId,
      epoch: this.epoch,
      userProvidedProducerName: this.userProvidedName,
      producerAccessMode: ACCESS_MODES[this.opts.accessMode],
    };
    if (this.producerName !== undefined) producer.producerName = this.producerName;
    if (this.schemaPb) producer.schema = this.schemaPb;
    if (this.topicEpoch !== undefined) producer.topicEpoch = this.topicEpoch;
    if (this.opts.properties) producer.metadata = props(this.opts.properties);
    conn.registerProducer(this.producerId, this);
    // The session being attached: a close by the broker (topic unload) or of the connection before the answer is
    // handled clears it (connectionLost), and this attempt then fails and is retried.
    this.conn = conn;
    let resp: BaseCommandPb;
    try {
      resp = await conn.request(
        { type: CommandType.PRODUCER, producer },
        requestId,
        `create producer on ${this.topic}`,
        this.opts.accessMode === "WaitForExclusive" ? 0 : undefined,
      );
    } catch (err) {
      conn.unregisterProducer(this.producerId);
      if (this.conn === conn) this.conn = undefined;
      const e = toPulsarClientError(err);
      if (e.code === "TIMEOUT") {
        // The broker may still create it; close so the retry does not hit ProducerBusy.
        const closeId = conn.newRequestId();
        conn
          .request(
            { type: CommandType.CLOSE_PRODUCER, closeProducer: { producerId: this.producerId, requestId: closeId } },
            closeId,
            "close producer",
          )
          .catch(() => undefined);
      }
      throw e;
    }
    const ok = resp.producerSuccess!;
    if (this.state === "closed" || this.state === "closing") {
      // Closed while connecting: release the producer on the broker too.
      conn.unregisterProducer(this.producerId);
      const closeId = conn.newRequestId();
      conn
        .request(
          { type: CommandType.CLOSE_PRODUCER, closeProducer: { producerId: this.producerId, requestId: closeId } },
          closeId,
          "close producer",
        )
        .catch(() => undefined);
      return;
    }
    if (this.conn !== conn) {
      // The broker closed this producer before its answer was handled (both can come in one read).
      throw new PulsarClientError(
        "CONNECTION_FAILED",
        `create producer on ${this.topic}: closed by the broker meanwhile`,
      );
    }
    this.epoch++;
    this.producerName = ok.producerName ?? this.producerName;
    if (ok.schemaVersion && ok.schemaVersion.length > 0) this.schemaVersion = Buffer.from(ok.schemaVersion);
    if (ok.topicEpoch !== undefined) this.topicEpoch = ok.topicEpoch;
    const brokerLast = ok.lastSequenceId ?? -1n;
    if (this.nextSequenceId === undefined) {
      this.lastSequenceId = brokerLast;
      this.nextSequenceId = brokerLast + 1n;
    } else if (this.pending.length === 0 && brokerLast >= this.nextSequenceId) {
      this.lastSequenceId = brokerLast;
      this.nextSequenceId = brokerLast + 1n;
    }
    this.state = "ready";
    this.backoff.reset();
    // Resend everything still waiting for a receipt, in order and with the original sequence ids.
    for (const op of this.pending) this.writeOp(op);
  }

  /**
   * Puts the producer back to connecting and makes sure one loop tries to attach it again, with backoff, until it is
   * ready or closed. A loop already running (its attempt may just have succeeded) sees the state and goes on.
   */
  private scheduleReconnect(): void {
    if (this.state === "closed" || this.state === "closing" || this.ctx.closed) return;
    this.state = "connecting";
    this.conn = undefined;
    if (this.reconnecting) return;
    this.reconnecting = true;
    void (async () => {
      try {
        while (this.state === "connecting" && !this.ctx.closed) {
          await sleep(this.backoff.next());
          if (this.state !== "connecting" || this.ctx.closed) break;
          try {
            await this.connectOnce();
          } catch (err) {
            const e = toPulsarClientError(err);
            if (e.code === "TOPIC_TERMINATED" || e.code === "PRODUCER_FENCED" || e.code === "TOPIC_NOT_FOUND") {
              this.failAll(e);
              this.state = "closed";
            }
          }
        }
      } finally {
        this.reconnecting = false;
      }
    })();
  }

  onBrokerClose(conn: Connection): void {
    this.connectionLost(conn);
  }

  onConnectionClosed(conn: Connection): void {
    this.connectionLost(conn);
  }

  /**
   * The session on `conn` ended. A ready producer reconnects (and resends what waits for a receipt); a creation still
   * in flight on it fails when its answer comes and its caller retries. A connection of an earlier session is no news.
   */
  private connectionLost(conn: Connection): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    if (this.state === "ready") this.scheduleReconnect();
  }

  onSendReceipt(r: NonNullable<BaseCommandPb["sendReceipt"]>): void {
    const seq = r.sequenceId ?? -1n;
    const head = this.pending[0];
    if (!head) return;
    if (seq < head.sequenceId) return; // late receipt for something already resolved
    if (seq > head.sequenceId) {
      // A receipt overtook an older message: the connection lost something. Reconnect and resend.
      this.conn?.destroy(
        new PulsarClientError("PROTOCOL", `unexpected receipt sequence ${seq}, expected ${head.sequenceId}`),
      );
      return;
    }
    this.pending.shift();
    const mid = r.messageId ?? {};
    const ledgerId = mid.ledgerId ?? -1n;
    const entryId = mid.entryId ?? -1n;
    const batched = head.metadata.numMessagesInBatch !== undefined;
    head.resolvers.forEach((res, i) => {
      res.resolve(
        new MessageId(
          ledgerId,
          entryId,
          this.partition,
          batched ? i : -1,
          batched ? head.numMessages : undefined,
          this.topic,
        ),
      );
    });
    if (head.highestSequenceId > this.lastSequenceId) this.lastSequenceId = head.highestSequenceId;
    this.slots.release(head.numMessages);
    // A batch held back while the window of sends in flight was full goes now that one came back.
    if (this.opts.batchingFlushWhenIdle && this.batch.length > 0) this.scheduleIdleFlush();
    if (this.pending.length === 0 && this.batch.length === 0) this.notifyDrained();
  }

  onSendError(r: NonNullable<BaseCommandPb["sendError"]>): void {
    const name = serverErrorName(r.error);
    const head = this.pending[0];
    if (name === "TopicTerminatedError") {
      this.failAll(new PulsarClientError("TOPIC_TERMINATED", `topic ${this.topic} is terminated`));
      this.state = "closed";
      return;
    }
    if (name === "NotAllowedError" && head && head.sequenceId === r.sequenceId) {
      this.pending.shift();
      for (const res of head.resolvers)
        res.reject(new PulsarClientError("NOT_ALLOWED", `send refused: ${r.message ?? ""}`));
      this.slots.release(head.numMessages);
      return;
    }
    // Anything else: reconnect and resend pending messages (the broker dedups what it already has).
    this.conn?.destroy(new PulsarClientError("BROKER_ERROR", `send error ${name}: ${r.message ?? ""}`));
  }

  private failAll(err: PulsarClientError): void {
    for (const op of this.pending.splice(0)) {
      for (const res of op.resolvers) res.reject(err);
      this.slots.release(op.numMessages);
    }
    for (const item of this.batch.splice(0)) {
      item.resolver.reject(err);
      this.slots.release(1);
    }
    this.batchBytes = 0;
    this.notifyDrained();
  }

  private checkSendTimeouts(): void {
    const head = this.pending[0];
    if (!head) return;
    if (Date.now() - head.createdAt > this.opts.sendTimeoutMs) {
      const err = new PulsarClientError(
        "TIMEOUT",
        `send to ${this.topic} timed out after ${this.opts.sendTimeoutMs} ms`,
      );
      for (const op of this.pending.splice(0)) {
        for (const res of op.resolvers) res.reject(err);
        this.slots.release(op.numMessages);
      }
      this.notifyDrained();
    }
  }

  private writeOp(op: OpSend): void {
    if (this.state !== "ready" || !this.conn) return;
    const send: NonNullable<BaseCommandPb["send"]> = {
      producerId: this.producerId,
      sequenceId: op.sequenceId,
      numMessages: op.numMessages,
    };
    if (op.highestSequenceId !== op.sequenceId) send.highestSequenceId = op.highestSequenceId;
    if (op.isChunk) send.isChunk = true;
    if (op.txn) {
      send.txnidMostBits = op.txn.mostBits;
      send.txnidLeastBits = op.txn.leastBits;
    }
    this.conn.writePayload({ type: CommandType.SEND, send }, op.metadata, op.payload);
  }

  private assignSequence(explicit: bigint | undefined): bigint {
    const next = this.nextSequenceId ?? 0n;
    if (explicit !== undefined) {
      if (explicit >= next) this.nextSequenceId = explicit + 1n;
      return explicit;
    }
    this.nextSequenceId = next + 1n;
    return next;
  }

  private baseMetadata(sequenceId: bigint): MessageMetadataPb {
    const m: MessageMetadataPb = {
      producerName: this.producerName ?? "",
      sequenceId,
      publishTime: BigInt(Date.now()),
    };
    if (this.schemaVersion) m.schemaVersion = this.schemaVersion;
    return m;
  }

  private compressInto(m: MessageMetadataPb, raw: Buffer): Buffer {
    const type = this.opts.compressionType;
    // Set without compression too, as the Java client does: the broker's compaction takes a key whose message has
    // uncompressed size 0 as deleted, and without the field it measures the whole entry instead.
    m.uncompressedSize = raw.length;
    if (type === "NONE") return raw;
    m.compression = COMPRESSION_CODES[type];
    return compress(type, raw);
  }

  /** Sends that have not yet reached the batch or the pending queue (flush() waits for them). */
  private entering = 0;
  private enteredWaiters: Array<() => void> = [];

  send(msg: OutgoingMessage): Promise<MessageId> {
    // Fast path without extra promise hops: a free slot and nothing to register first.
    if (!msg.txn && (this.state === "ready" || this.state === "connecting")) {
      let value: Buffer;
      try {
        value = this.validate(msg);
      } catch (err) {
        return Promise.reject(err);
      }
      if (this.slots.tryAcquire()) {
        return new Promise<MessageId>((resolve, reject) => this.enqueue(msg, value, { resolve, reject }));
      }
    }
    this.entering++;
    const entered = this.enter(msg);
    const done = () => {
      this.entering--;
      if (this.entering === 0 && this.enteredWaiters.length > 0) {
        const waiters = this.enteredWaiters;
        this.enteredWaiters = [];
        for (const w of waiters) w();
      }
    };
    entered.then(done, done);
    return entered.then((e) => e.receipt);
  }

  /** Validates, waits for a pending slot and queues the message; resolves once it is queued. */
  private validate(msg: ProducerMessage): Buffer {
    if (this.state === "closed" || this.state === "closing") {
      throw new PulsarClientError("CLOSED", `producer for ${this.topic} is closed`);
    }
    const value = toBuffer(msg.value);
    if (value.length > this.maxMessageSize && !this.opts.chunkingEnabled) {
      throw new PulsarClientError(
        "MESSAGE_TOO_BIG",
        `message of ${value.length} bytes exceeds the broker limit of ${this.maxMessageSize} bytes`,
      );
    }
    return value;
  }

  private async enter(msg: OutgoingMessage): Promise<{ receipt: Promise<MessageId> }> {
    const value = this.validate(msg);
    if (msg.txn) {
      if (msg.txn.state !== "OPEN") {
        throw new PulsarClientError("INVALID_TXN_STATUS", `transaction ${msg.txn.id} is ${msg.txn.state}`);
      }
      await this.registerTxn(msg.txn);
    }
    await this.slots.acquire();
    const state = this.state as State;
    if (state === "closed" || state === "closing") {
      this.slots.release();
      throw new PulsarClientError("CLOSED", `producer for ${this.topic} is closed`);
    }
    const receipt = new Promise<MessageId>((resolve, reject) => this.enqueue(msg, value, { resolve, reject }));
    return { receipt };
  }

  private enqueue(msg: OutgoingMessage, value: Buffer, resolver: Resolver): void {
    const reject = resolver.reject;
    const sequenceId = this.assignSequence(msg.sequenceId);
    // Messages as large as a whole batch go out alone, like the Java client does.
    const canBatch =
      this.opts.batchingEnabled &&
      !msg.txn &&
      msg.deliverAt === undefined &&
      value.length < this.opts.batchingMaxBytes &&
      value.length < this.chunkLimit;
    if (canBatch) {
      const md: BatchItem["metadata"] = { sequenceId };
      if (msg.key !== undefined) md.partitionKey = msg.key;
      if (msg.keyIsBase64) md.partitionKeyB64Encoded = true;
      if (msg.orderingKey) md.orderingKey = msg.orderingKey;
      const p = props(msg.properties);
      if (p) md.properties = p;
      if (msg.eventTime !== undefined) md.eventTime = BigInt(msg.eventTime);
      if (
        this.batch.length > 0 &&
        (this.batchBytes + value.length > this.opts.batchingMaxBytes ||
          (this.opts.batchingType === "KEY_BASED" && this.batch[0]!.metadata.partitionKey !== md.partitionKey))
      ) {
        this.flushBatch();
      }
      this.batch.push({ metadata: md, payload: value, sequenceId, resolver });
      this.batchBytes += value.length;
      if (this.batch.length >= this.opts.batchingMaxMessages || this.batchBytes >= this.opts.batchingMaxBytes) {
        this.flushBatch();
      } else {
        if (!this.batchTimer) {
          this.batchTimer = setTimeout(() => {
            this.batchTimer = undefined;
            this.flushBatch();
          }, this.opts.batchingMaxPublishDelayMs);
        }
        if (this.opts.batchingFlushWhenIdle) this.scheduleIdleFlush();
      }
      return;
    }
    // Keep publish order: anything waiting in the open batch goes first.
    if (this.batch.length > 0) this.flushBatch();
    const m = this.baseMetadata(sequenceId);
    if (msg.key !== undefined) m.partitionKey = msg.key;
    if (msg.keyIsBase64) m.partitionKeyB64Encoded = true;
    if (msg.orderingKey) m.orderingKey = msg.orderingKey;
    const p = props(msg.properties);
    if (p) m.properties = p;
    if (msg.eventTime !== undefined) m.eventTime = BigInt(msg.eventTime);
    if (msg.deliverAt !== undefined) m.deliverAtTime = BigInt(msg.deliverAt);
    if (msg.txn) {
      m.txnidMostBits = msg.txn.mostBits;
      m.txnidLeastBits = msg.txn.leastBits;
    }
    let payload: Buffer;
    try {
      payload = this.compressInto(m, value);
    } catch (err) {
      this.slots.release();
      reject(toPulsarClientError(err, "COMPRESSION"));
      return;
    }
    if (this.opts.chunkingEnabled && payload.length > this.chunkLimit && !msg.txn) {
      this.enqueueChunks(m, payload, sequenceId, resolver);
      return;
    }
    if (payload.length > this.maxMessageSize) {
      this.slots.release();
      reject(
        new PulsarClientError(
          "MESSAGE_TOO_BIG",
          `compressed message of ${payload.length} bytes exceeds the broker limit`,
        ),
      );
      return;
    }
    const op: OpSend = {
      sequenceId,
      highestSequenceId: sequenceId,
      numMessages: 1,
      metadata: m,
      payload,
      resolvers: [resolver],
      createdAt: Date.now(),
      txn: msg.txn,
    };
    this.pending.push(op);
    this.writeOp(op);
  }

  /** Largest payload sent in one piece when chunking is on (room left for the metadata). */
  private get chunkLimit(): number {
    const max = Math.min(this.opts.chunkMaxMessageSize ?? Number.POSITIVE_INFINITY, this.maxMessageSize);
    return this.opts.chunkingEnabled ? Math.max(1024, max - 2048) : Number.POSITIVE_INFINITY;
  }

  /** One SEND per chunk, all with the message's sequence id; only the last chunk resolves the send. */
  private enqueueChunks(m: MessageMetadataPb, payload: Buffer, sequenceId: bigint, resolver: Resolver): void {
    const size = this.chunkLimit;
    const count = Math.ceil(payload.length / size);
    const uuid = `${this.producerName ?? ""}-${sequenceId}`;
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      const op: OpSend = {
        sequenceId,
        highestSequenceId: sequenceId,
        numMessages: last ? 1 : 0,
        metadata: { ...m, uuid, chunkId: i, numChunksFromMsg: count, totalChunkMsgSize: payload.length },
        payload: payload.subarray(i * size, Math.min(payload.length, (i + 1) * size)),
        resolvers: last ? [resolver] : [],
        createdAt: Date.now(),
        txn: undefined,
        isChunk: true,
      };
      this.pending.push(op);
      this.writeOp(op);
    }
  }

  private async registerTxn(txn: Transaction): Promise<void> {
    if (this.txnPartitionsAdded.has(txn)) return;
    await txn.addPartition(this.topic);
    this.txnPartitionsAdded.add(txn);
  }

  /**
   * Sends the open batch once this turn of the event loop has added what it had, unless IDLE_FLUSH_WINDOW sends are
   * still waiting for their receipt: then the batch keeps growing until a receipt comes back (or the publish delay
   * ends), so that at high rates batches grow with the broker's round trip instead of each turn making an entry.
   */
  private scheduleIdleFlush(): void {
    if (this.idleFlush) return;
    this.idleFlush = setImmediate(() => {
      this.idleFlush = undefined;
      if (this.pending.length < IDLE_FLUSH_WINDOW) this.flushBatch();
    });
  }

  /** Turns the open batch into one SEND. */
  flushBatch(): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    const items = this.batch;
    if (items.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    let m: MessageMetadataPb;
    let payload: Buffer;
    let first: bigint;
    let highest: bigint;
    try {
      const { sequenceId: _first, ...base } = this.baseMetadata(0n);
      ({ metadata: m, payload, first, highest } = buildBatch(this.batchWriter, items, this.opts.compressionType, base));
    } catch (err) {
      const e = toPulsarClientError(err, "COMPRESSION");
      for (const it of items) it.resolver.reject(e);
      this.slots.release(items.length);
      return;
    }
    if (payload.length > this.maxMessageSize) {
      const e = new PulsarClientError("MESSAGE_TOO_BIG", `batch of ${payload.length} bytes exceeds the broker limit`);
      for (const it of items) it.resolver.reject(e);
      this.slots.release(items.length);
      return;
    }
    const op: OpSend = {
      sequenceId: first,
      highestSequenceId: highest,
      numMessages: items.length,
      metadata: m,
      payload,
      resolvers: items.map((i) => i.resolver),
      createdAt: Date.now(),
      txn: undefined,
    };
    this.pending.push(op);
    this.writeOp(op);
  }

  private notifyDrained(): void {
    if (this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    // Let the send() promises settle (and their callbacks run) before flush() returns.
    setImmediate(() => {
      for (const w of waiters) w();
    });
  }

  /** Sends the open batch and waits until every message sent so far has its receipt (or failed). */
  async flush(): Promise<void> {
    while (this.entering > 0) await new Promise<void>((resolve) => this.enteredWaiters.push(resolve));
    this.flushBatch();
    if (this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    if (this.state === "ready") {
      const timeout = this.opts.sendTimeoutMs > 0 ? this.opts.sendTimeoutMs : this.ctx.operationTimeoutMs;
      await Promise.race([this.flush(), sleep(timeout)]);
    }
    this.state = "closing";
    if (this.batchTimer) clearTimeout(this.batchTimer);
    if (this.idleFlush) clearImmediate(this.idleFlush);
    if (this.timeoutTimer) clearInterval(this.timeoutTimer);
    const conn = this.conn;
    if (conn && !conn.closed) {
      const requestId = conn.newRequestId();
      await conn
        .request(
          { type: CommandType.CLOSE_PRODUCER, closeProducer: { producerId: this.producerId, requestId } },
          requestId,
          "close producer",
        )
        .catch(() => undefined);
      conn.unregisterProducer(this.producerId);
    }
    this.state = "closed";
    this.failAll(new PulsarClientError("CLOSED", `producer for ${this.topic} closed`));
    this.slots.failAll();
  }
}

/** A producer for a topic; for partitioned topics one PartitionProducer per partition behind a router. */
export class Producer {
  readonly topic: string;
  private readonly parts: PartitionProducer[];
  private rr: number;
  private closed = false;

  private readonly hashingScheme: HashingScheme;
  private readonly ctx: ClientContext;
  private readonly makePart: ((index: number) => PartitionProducer) | undefined;
  private partitionTimer: NodeJS.Timeout | undefined;
  private updating = false;

  /** @internal */
  constructor(
    topic: string,
    parts: PartitionProducer[],
    hashingScheme: HashingScheme,
    ctx: ClientContext,
    makePart?: (index: number) => PartitionProducer,
    updateIntervalMs = 0,
  ) {
    this.hashingScheme = hashingScheme;
    this.ctx = ctx;
    this.topic = topic;
    this.parts = parts;
    this.rr = Math.floor(Math.random() * parts.length);
    this.makePart = makePart;
    if (makePart && updateIntervalMs > 0) {
      this.partitionTimer = setInterval(() => void this.updatePartitions(), updateIntervalMs);
      this.partitionTimer.unref();
    }
  }

  /** Adds producers for partitions added to the topic since creation. */
  private async updatePartitions(): Promise<void> {
    if (this.updating || this.closed || !this.makePart) return;
    this.updating = true;
    try {
      const n = await this.ctx.partitions(this.topic);
      if (n <= this.parts.length) return;
      const added = Array.from({ length: n - this.parts.length }, (_, i) => this.makePart!(this.parts.length + i));
      await Promise.all(added.map((p) => p.start()));
      if (this.closed) {
        await Promise.all(added.map((p) => p.close()));
        return;
      }
      this.parts.push(...added);
    } catch {
      // retried at the next interval
    } finally {
      this.updating = false;
    }
  }

  /** @internal */
  static async create(
    ctx: ClientContext,
    topic: string,
    numPartitions: number,
    options: ProducerOptions,
  ): Promise<Producer> {
    const compressionType = options.compressionType ?? "NONE";
    if (!(compressionType in COMPRESSION_CODES)) {
      throw new PulsarClientError("INVALID_CONFIG", `unknown compression type ${String(compressionType)}`);
    }
    const unavailable = compressionUnavailable(compressionType);
    if (unavailable) throw new PulsarClientError("INVALID_CONFIG", unavailable);
    const resolved = {
      ...options,
      sendTimeoutMs: options.sendTimeoutMs ?? 30_000,
      batchingEnabled: options.batchingEnabled ?? true,
      batchingMaxMessages: Math.max(1, options.batchingMaxMessages ?? 1000),
      batchingMaxBytes: Math.max(1, options.batchingMaxBytes ?? 128 * 1024),
      batchingMaxPublishDelayMs: Math.max(0, options.batchingMaxPublishDelayMs ?? 10),
      compressionType,
      accessMode: options.accessMode ?? "Shared",
    };
    const maxPending = Math.max(1, options.maxPendingMessages ?? 1000);
    const makePart = (i: number) =>
      new PartitionProducer(ctx, resolved, `${topic}-partition-${i}`, i, new Semaphore(maxPending));
    const parts =
      numPartitions > 0
        ? Array.from({ length: numPartitions }, (_, i) => makePart(i))
        : [new PartitionProducer(ctx, resolved, topic, -1, new Semaphore(maxPending))];
    try {
      await Promise.all(parts.map((p) => p.start()));
    } catch (err) {
      await Promise.all(parts.map((p) => p.close().catch(() => undefined)));
      throw err;
    }
    const producer =
      numPartitions > 0
        ? new Producer(
            topic,
            parts,
            options.hashingScheme ?? "JavaStringHash",
            ctx,
            makePart,
            options.autoUpdatePartitionsIntervalMs ?? 60_000,
          )
        : new Producer(topic, parts, options.hashingScheme ?? "JavaStringHash", ctx);
    ctx.track(producer);
    return producer;
  }

  get producerName(): string {
    return this.parts[0]?.producerName ?? "";
  }

  get numPartitions(): number {
    return this.parts.length;
  }

  /** Highest sequence id acknowledged by the broker (across partitions); -1 when none. */
  get lastSequenceId(): bigint {
    let max = -1n;
    for (const p of this.parts) if (p.lastSequenceId > max) max = p.lastSequenceId;
    return max;
  }

  /**
   * Highest sequence id the broker acknowledged on one partition (0 for a non-partitioned topic); -1 when none.
   * Each partition deduplicates on its own, so this is the figure to compare a resent sequence id with.
   */
  lastSequenceIdOf(partition: number): bigint {
    return this.parts[partition]?.lastSequenceId ?? -1n;
  }

  /** Largest message the brokers of this topic accept, in bytes (the smallest over the partitions). */
  get maxMessageSize(): number {
    let max = Number.POSITIVE_INFINITY;
    for (const p of this.parts) max = Math.min(max, p.maxMessageSize);
    return max;
  }

  /** Schema version the broker assigned to this producer's schema, if any. */
  get schemaVersion(): Buffer | undefined {
    return this.parts[0]?.schemaVersion;
  }

  get isConnected(): boolean {
    return this.parts.every((p) => p.isConnected);
  }

  /**
   * Whether the producer is closed for good: by {@link close}, or by the broker (another ExclusiveWithFencing producer
   * fenced it, the topic was terminated or deleted). Unlike {@link isConnected}, a reconnect in progress is not closed.
   */
  get isClosed(): boolean {
    return this.closed || this.parts.some((p) => p.isClosed);
  }

  /** Partition a message goes to: key hash like the Java default router, else round-robin. */
  choosePartition(key: string | undefined): number {
    const n = this.parts.length;
    if (n === 1) return 0;
    if (key !== undefined && key !== "") return partitionForKey(key, n, this.hashingScheme);
    this.rr = (this.rr + 1) % n;
    return this.rr;
  }

  send(message: ProducerMessage): Promise<MessageId> {
    if (this.closed) return Promise.reject(new PulsarClientError("CLOSED", `producer for ${this.topic} is closed`));
    if (!message || message.value === undefined || message.value === null) {
      return Promise.reject(new PulsarClientError("INVALID_CONFIG", "send() needs a message with a value"));
    }
    let outgoing: OutgoingMessage = message;
    if (message.keyBytes !== undefined) {
      if (message.key !== undefined) {
        return Promise.reject(new PulsarClientError("INVALID_CONFIG", "a message takes key or keyBytes, not both"));
      }
      outgoing = { ...message, key: Buffer.from(message.keyBytes).toString("base64"), keyIsBase64: true };
    } else if (message.key !== undefined && this.parts[0]?.separatedKeyValue) {
      return Promise.reject(
        new PulsarClientError(
          "INVALID_CONFIG",
          "a KeyValue schema with SEPARATED encoding takes the encoded key as keyBytes, not as key",
        ),
      );
    }
    // The router hashes the key as sent (base64 for binary keys), as the Java client's does.
    const partition = outgoing.partition ?? this.choosePartition(outgoing.key);
    const target = this.parts[partition];
    if (!target || !Number.isInteger(partition)) {
      return Promise.reject(
        new PulsarClientError(
          "INVALID_CONFIG",
          `partition ${partition} does not exist on ${this.topic} (${this.parts.length} partition(s))`,
        ),
      );
    }
    return target.send(outgoing);
  }

  async flush(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.flush()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.partitionTimer) clearInterval(this.partitionTimer);
    this.ctx.untrack(this);
    await Promise.all(this.parts.map((p) => p.close()));
  }
}
