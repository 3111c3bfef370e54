import { createRequire } from "node:module";
import type { RE2JS } from "re2js";
import { PulsarClientError, toPulsarClientError } from "./errors.ts";
import { Backoff, sleep } from "./internal/backoff.ts";
import { parseBatch } from "./internal/batch.ts";
import { BatchAcks, entryKey } from "./internal/batch-acks.ts";
import { compressionName, decompress } from "./internal/compression.ts";
import type { Connection, ConsumerHandler } from "./internal/connection.ts";
import { serverError } from "./internal/errors-map.ts";
import type { Frame } from "./internal/frame.ts";
import { type BaseCommandPb, CommandType, type KeyValuePb, type MessageIdDataPb } from "./internal/schema.ts";
import { parseTopicName } from "./internal/topic-name.ts";
import { Message } from "./message.ts";
import { MessageId } from "./message-id.ts";
import type { ClientContext, Producer } from "./producer.ts";
import { Producer as ProducerClass } from "./producer.ts";
import { type SchemaInfo, schemaToPb } from "./schema-info.ts";
import type { Transaction } from "./transaction.ts";

export type SubscriptionType = "Exclusive" | "Shared" | "Failover" | "Key_Shared";
export type SubscriptionInitialPosition = "Latest" | "Earliest";
const SUB_TYPES: Record<SubscriptionType, number> = { Exclusive: 0, Shared: 1, Failover: 2, Key_Shared: 3 };

export interface DeadLetterPolicy {
  /** After this many redeliveries a message goes to the dead-letter topic instead of being redelivered. */
  maxRedeliverCount: number;
  /** Default: `<topic>-<subscription>-DLQ`. */
  deadLetterTopic?: string;
}

export interface ActiveConsumerChangeEvent {
  topic: string;
  active: boolean;
}

export interface ConsumerOptions {
  topic?: string;
  topics?: string[];
  /**
   * Regular expression over full topic names (persistent://tenant/ns/...), matched at subscribe time and again every
   * `patternAutoDiscoveryPeriodMs`; the matching topics are consumed together with `topic`/`topics`.
   */
  topicsPattern?: string | RegExp;
  subscription: string;
  subscriptionType?: SubscriptionType;
  subscriptionInitialPosition?: SubscriptionInitialPosition;
  /** Messages prefetched per topic partition. Default 1000. */
  receiverQueueSize?: number;
  /**
   * Bytes of received messages the consumer holds before the application takes them, over all its partitions: no
   * more messages are requested from the broker while they are at the limit. Default 64 MiB.
   */
  maxPrefetchBytes?: number;
  /** Redeliver messages not acknowledged within this time; 0 disables (default). */
  ackTimeoutMs?: number;
  /**
   * Whether `acknowledge` and `acknowledgeCumulative` wait for the broker's answer (Java `isAckReceiptEnabled`):
   * the ack carries a `request_id` and the promise resolves on `ACK_RESPONSE`, or rejects when the broker refuses it,
   * the connection is down (nothing is sent: the message comes again after the reconnect) or it drops before the
   * answer. The broker acknowledges whole entries: acking a message of a batch whose other messages are not
   * acknowledged yet sends nothing and resolves at once, as in the Java client. Default false (fire-and-forget).
   */
  ackReceiptEnabled?: boolean;
  /** Delay before negatively acknowledged messages are redelivered. Default 60000. */
  negativeAckRedeliveryDelayMs?: number;
  deadLetterPolicy?: DeadLetterPolicy;
  /** false = non-durable cursor, gone when the consumer disconnects. Default true. */
  durable?: boolean;
  consumerName?: string;
  readCompacted?: boolean;
  priorityLevel?: number;
  schema?: SchemaInfo;
  properties?: Record<string, string>;
  /**
   * Called when the broker makes this consumer the active one of a topic partition (Failover, Exclusive), or another
   * consumer. A consumer that stops being the active one drops the messages it prefetched from that partition and
   * has not handed out yet: the broker sends everything unacknowledged to the new active consumer.
   */
  onActiveConsumerChange?: (event: ActiveConsumerChangeEvent) => void;
  /** How often partitioned topics are checked for added partitions; 0 disables. Default 60000. */
  autoUpdatePartitionsIntervalMs?: number;
  /** How often `topicsPattern` is matched again against the namespace's topics; 0 disables. Default 60000. */
  patternAutoDiscoveryPeriodMs?: number;
  /**
   * Largest uncompressed size a message (not chunked) may declare. A message declaring more is not decompressed:
   * receive() rejects with MESSAGE_TOO_BIG for it. Default: maxChunkedMessageSize (64 MiB), since the Java producer
   * limits only the compressed size, so a compressible message may legitimately be larger than the broker's limit.
   */
  maxUncompressedMessageSize?: number;
  /** Largest chunked message reassembled; a larger one is surfaced as MESSAGE_TOO_BIG. Default 64 MiB. */
  maxChunkedMessageSize?: number;
  /** Chunked messages reassembled at once per partition; the oldest is dropped beyond it. Default 10. */
  maxPendingChunkedMessage?: number;
  /** Acknowledge the chunks of the oldest chunked message dropped for maxPendingChunkedMessage. Default false. */
  autoAckOldestChunkedMessageOnQueueFull?: boolean;
  /** Incomplete chunked messages older than this are dropped and their chunks acknowledged; 0 disables. Default 60000. */
  expireTimeOfIncompleteChunkedMessageMs?: number;
  /** @internal reader positioning */
  startMessageId?: MessageId;
  /** @internal */
  startMessageIdInclusive?: boolean;
}

export interface AcknowledgeOptions {
  txn?: Transaction;
}

function positiveOption(options: ConsumerOptions, name: keyof ConsumerOptions, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new PulsarClientError("INVALID_CONFIG", `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

type TopicResolver = (topics: string[]) => Promise<Array<{ topic: string; partition: number; base: string }>>;
type State = "connecting" | "ready" | "closing" | "closed";

interface ChunkedMessage {
  parts: Buffer[];
  ids: MessageIdDataPb[];
  bytes: number;
  startedAt: number;
  /** Larger than maxChunkedMessageSize: only the chunk ids are kept, to surface and acknowledge it as one. */
  tooBig: boolean;
}

function propsOf(list: KeyValuePb[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (list) for (const kv of list) out[kv.key ?? ""] = kv.value ?? "";
  return out;
}

interface ResolvedOptions extends ConsumerOptions {
  subscriptionType: SubscriptionType;
  maxChunkedMessageSize: number;
  maxPendingChunkedMessage: number;
  maxPrefetchBytes: number;
  expireTimeOfIncompleteChunkedMessageMs: number;
  receiverQueueSize: number;
  negativeAckRedeliveryDelayMs: number;
  ackTimeoutMs: number;
  durable: boolean;
}

/**
 * How long a consumer the broker made active waits for a first message before it asks for a rewind itself (see
 * `onActiveConsumerChange`).
 */
const ACTIVATION_QUIET_MS = 1000;

/** Consumer of one topic partition; its messages go to the parent's queue. */
class PartitionConsumer implements ConsumerHandler {
  readonly consumerId: bigint;
  state: State = "connecting";
  active: boolean | undefined;
  /** Set when the broker made this consumer the active one: checks that messages came after the notice. */
  private activationCheck: NodeJS.Timeout | undefined;
  private receivedSinceActivation = false;
  private conn: Connection | undefined;
  /** Permits earned back (messages taken or skipped) and not yet handed to the broker. */
  private permits = 0;
  /** Permits the broker still holds: messages it may send without asking. */
  private outstanding = 0;
  /** Bytes of this partition's messages waiting in the parent's queue. */
  queuedBytes = 0;
  private avgMessageBytes = 0;
  private readonly batchAcks = new BatchAcks();
  /** Acknowledgements made while disconnected, sent after the next subscribe. */
  private readonly heldAcks: MessageIdDataPb[] = [];
  private heldCumulativeAck: MessageIdDataPb | undefined;
  /** Chunked messages being reassembled, by uuid. */
  private readonly chunkedInProgress = new Map<string, ChunkedMessage>();
  private chunkTimer: NodeJS.Timeout | undefined;
  /** Entry ids of every chunk of a reassembled message, keyed by the last chunk's entry. */
  private readonly chunkIds = new Map<string, MessageIdDataPb[]>();
  /** Delivered, not yet acknowledged (only with ackTimeoutMs), keyed by message id string. */
  private readonly unacked = new Map<string, { msg: Message; deadline: number }>();
  private readonly nacked = new Map<string, { msg: Message; deadline: number }>();
  private nackTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff(100, 10_000);
  private reconnecting = false;
  /** Acknowledgements waiting for the broker's receipt; abandoned when this consumer's session with the broker ends. */
  private readonly receiptWaits = new Set<(error: PulsarClientError) => void>();
  private seeking = false;
  /** Non-durable positioning: where (re)subscription starts and what is filtered out client-side. */
  private startId: MessageId | undefined;
  private startInclusive: boolean;
  private lastDequeued: MessageId | undefined;
  private epoch = 0n;

  private readonly parent: Consumer;
  private readonly ctx: ClientContext;
  private readonly opts: ResolvedOptions;
  readonly topic: string;
  readonly partition: number;
  readonly baseTopic: string;
  readonly index: number;

  constructor(
    parent: Consumer,
    ctx: ClientContext,
    opts: ResolvedOptions,
    topic: string,
    partition: number,
    baseTopic: string,
    index: number,
  ) {
    this.parent = parent;
    this.ctx = ctx;
    this.opts = opts;
    this.topic = topic;
    this.partition = partition;
    this.baseTopic = baseTopic;
    this.index = index;
    this.consumerId = ctx.nextId();
    this.startId = opts.startMessageId;
    this.startInclusive = opts.startMessageIdInclusive ?? false;
    if (opts.ackTimeoutMs > 0) {
      const tick = Math.max(100, Math.min(1000, Math.floor(opts.ackTimeoutMs / 4)));
      this.ackTimer = setInterval(() => this.checkAckTimeouts(), tick);
      this.ackTimer.unref();
    }
  }

  private get shared(): boolean {
    return this.opts.subscriptionType === "Shared" || this.opts.subscriptionType === "Key_Shared";
  }

  async start(): Promise<void> {
    const deadline = Date.now() + this.ctx.operationTimeoutMs;
    for (;;) {
      try {
        await this.connectOnce();
        return;
      } catch (err) {
        const e = toPulsarClientError(err, "CONNECTION_FAILED");
        if (!e.retryable || e.code === "CONSUMER_BUSY" || Date.now() + 100 > deadline || this.ctx.closed) {
          this.state = "closed";
          this.stopTimers();
          throw e;
        }
        await sleep(Math.min(this.backoff.next(), Math.max(0, deadline - Date.now())));
      }
    }
  }

  private subscribeCommand(requestId: bigint): NonNullable<BaseCommandPb["subscribe"]> {
    const o = this.opts;
    const sub: NonNullable<BaseCommandPb["subscribe"]> = {
      topic: this.topic,
      subscription: o.subscription,
      subType: SUB_TYPES[o.subscriptionType],
      consumerId: this.consumerId,
      requestId,
      durable: o.durable,
      initialPosition: o.subscriptionInitialPosition === "Earliest" ? 1 : 0,
      readCompacted: o.readCompacted ?? false,
      forceTopicCreation: true,
      replicateSubscriptionState: false,
      consumerEpoch: this.epoch,
    };
    if (o.consumerName) sub.consumerName = o.consumerName;
    if (o.priorityLevel !== undefined) sub.priorityLevel = o.priorityLevel;
    const schema = schemaToPb(o.schema);
    if (schema) sub.schema = schema;
    if (o.properties) sub.metadata = Object.entries(o.properties).map(([key, value]) => ({ key, value }));
    if (o.subscriptionType === "Key_Shared") sub.keySharedMeta = { keySharedMode: 0 };
    const start = this.lastDequeued ?? this.startId;
    if (!o.durable && start) sub.startMessageId = this.wireStart(start);
    return sub;
  }

  /** Start one entry early and filter client-side, so inclusive/exclusive and batch positions are exact. */
  private wireStart(id: MessageId): MessageIdDataPb {
    if (id.ledgerId < 0 || id.compareTo(MessageId.latest) === 0) return { ledgerId: id.ledgerId, entryId: id.entryId };
    return { ledgerId: id.ledgerId, entryId: id.entryId - 1n };
  }

  private async connectOnce(): Promise<void> {
    const conn = await this.ctx.pool.connectionForTopic(this.topic);
    const requestId = conn.newRequestId();
    conn.registerConsumer(this.consumerId, this);
    // The session being attached: a close by the broker (topic unload) or of the connection before the answer is
    // handled clears it (connectionLost), and this attempt then fails and is retried.
    this.conn = conn;
    // Whatever was prefetched is redelivered by the broker after resubscription.
    this.parent.dropQueued(this.index);
    this.batchAcks.clear();
    this.chunkedInProgress.clear();
    try {
      await conn.request(
        { type: CommandType.SUBSCRIBE, subscribe: this.subscribeCommand(requestId) },
        requestId,
        `subscribe ${this.opts.subscription} on ${this.topic}`,
      );
    } catch (err) {
      conn.unregisterConsumer(this.consumerId);
      if (this.conn === conn) this.conn = undefined;
      const e = toPulsarClientError(err);
      if (e.code === "TIMEOUT") {
        const closeId = conn.newRequestId();
        conn
          .request(
            { type: CommandType.CLOSE_CONSUMER, closeConsumer: { consumerId: this.consumerId, requestId: closeId } },
            closeId,
            "close consumer",
          )
          .catch(() => undefined);
      }
      throw e;
    }
    if (this.state === "closing" || this.state === "closed") {
      // Closed while subscribing: do not leave the subscription attached on the broker.
      conn.unregisterConsumer(this.consumerId);
      const closeId = conn.newRequestId();
      conn
        .request(
          { type: CommandType.CLOSE_CONSUMER, closeConsumer: { consumerId: this.consumerId, requestId: closeId } },
          closeId,
          "close consumer",
        )
        .catch(() => undefined);
      return;
    }
    if (this.conn !== conn) {
      // The broker closed this consumer before its subscribe answer was handled (both can come in one read).
      throw new PulsarClientError(
        "CONNECTION_FAILED",
        `subscribe ${this.opts.subscription} on ${this.topic}: closed by the broker while subscribing`,
      );
    }
    this.state = "ready";
    this.seeking = false;
    this.backoff.reset();
    this.outstanding = 0;
    this.sendHeldAcks();
    // Before the first message the size is unknown: ask for as many as fit the byte budget at the largest size.
    const initial = this.avgMessageBytes > 0 ? this.opts.receiverQueueSize : this.initialPermits(conn.maxMessageSize);
    this.permits = this.opts.receiverQueueSize - initial;
    this.flow(initial);
  }

  private initialPermits(maxMessageSize: number): number {
    return Math.min(this.opts.receiverQueueSize, Math.max(1, Math.floor(this.prefetchBudget() / maxMessageSize)));
  }

  private prefetchBudget(): number {
    return Math.max(1, Math.floor(this.opts.maxPrefetchBytes / this.parent.partitionCount));
  }

  private flow(n: number): void {
    if (n <= 0 || !this.conn || this.state !== "ready") return;
    this.outstanding += n;
    this.conn.write({ type: CommandType.FLOW, flow: { consumerId: this.consumerId, messagePermits: n } });
  }

  private addPermits(n: number): void {
    this.permits += n;
    if (this.permits < Math.max(1, Math.floor(this.opts.receiverQueueSize / 2))) return;
    // Byte bound: what is queued plus what the broker may still send (at the average size) stays in the budget.
    let grant = this.permits;
    if (this.avgMessageBytes > 0) {
      const room = Math.floor((this.prefetchBudget() - this.queuedBytes) / this.avgMessageBytes) - this.outstanding;
      const idle = this.queuedBytes === 0 && this.outstanding === 0;
      grant = Math.min(grant, Math.max(idle ? 1 : 0, room));
    }
    if (grant <= 0) return;
    this.permits -= grant;
    this.flow(grant);
  }

  /** Called for every entry the broker sent: `count` permits used. */
  private received(count: number): void {
    this.outstanding = Math.max(0, this.outstanding - count);
  }

  /** Keeps the average decoded message size that the byte bound plans with. */
  private measured(count: number, bytes: number): void {
    const per = bytes / Math.max(1, count);
    this.avgMessageBytes = this.avgMessageBytes > 0 ? this.avgMessageBytes * 0.8 + per * 0.2 : per;
  }

  /**
   * Puts the consumer back to connecting and makes sure one loop tries to subscribe again, with backoff, until it is
   * subscribed or closed. A loop already running (its attempt may just have succeeded) sees the state and goes on.
   */
  private scheduleReconnect(): void {
    if (this.state === "closed" || this.state === "closing" || this.ctx.closed) return;
    this.state = "connecting";
    this.conn = undefined;
    this.abandonReceipts();
    this.parent.dropQueued(this.index);
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
            if (e.code === "TOPIC_NOT_FOUND" || e.code === "SUBSCRIPTION_NOT_FOUND") {
              this.state = "closed";
              this.parent.partitionFailed(e);
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
   * The session on `conn` ended. A ready consumer reconnects; a subscribe still in flight on it fails when its
   * answer comes and its caller retries. A connection of an earlier session is no news.
   */
  private connectionLost(conn: Connection): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    if (this.state === "ready") this.scheduleReconnect();
  }

  onActiveConsumerChange(active: boolean): void {
    this.active = active;
    clearTimeout(this.activationCheck);
    this.activationCheck = undefined;
    if (!active) {
      // The broker rewinds to the first unacknowledged message for the new active consumer: handing out what this
      // one prefetched before would give the same messages to two consumers (and to an application that tracks
      // positions, messages past a range the other consumer has not written yet). The permits go back to the
      // broker, for when this consumer is the active one again.
      this.chunkedInProgress.clear();
      this.addPermits(this.parent.dropQueued(this.index));
    } else {
      // The broker sends this notice when it rewinds for the new active consumer, but a read it had already parked
      // at the end of the topic for that consumer (issued when a dispatch to the previous one completed) survives
      // the rewind: nothing the previous consumer left unacknowledged comes until a new message is published. When
      // nothing arrives after the notice, a rewind asked for by this consumer cancels that read. (Asked at once, it
      // would make the broker send twice whatever it dispatched before taking the request.) Every notice starts the
      // check, also one that finds this consumer active already: after a reconnect the flag is the last session's,
      // and a repeated notice comes with a rewind of its own.
      this.receivedSinceActivation = false;
      this.activationCheck = setTimeout(() => {
        this.activationCheck = undefined;
        if (this.active === true && !this.receivedSinceActivation) this.rewindOnBroker();
      }, ACTIVATION_QUIET_MS);
      this.activationCheck.unref();
    }
    this.opts.onActiveConsumerChange?.({ topic: this.topic, active });
  }

  onReachedEndOfTopic(): void {
    this.parent.reachedEnd(this.index);
  }

  /**
   * A message that cannot be decoded is never acknowledged here: the parent's queue gets an error in its place,
   * so the application sees it and decides (fail, dead-letter, or acknowledge `error.messageId` to drop it).
   */
  private undecodable(
    idData: MessageIdDataPb,
    count: number,
    code: "CHECKSUM" | "COMPRESSION" | "MESSAGE_TOO_BIG" | "PROTOCOL",
    reason: string,
    cause?: unknown,
  ): void {
    const id = new MessageId(idData.ledgerId ?? -1n, idData.entryId ?? -1n, this.partition, -1, undefined, this.topic);
    const error = new PulsarClientError(code, `cannot decode message ${id.toString()} of ${this.topic}: ${reason}`, {
      messageId: id,
      retryable: false,
      ...(cause !== undefined ? { cause } : {}),
    });
    this.parent.enqueueUndecodable(error, this.index, count);
  }

  /** Called when the application took an undecodable entry's error from the queue. */
  dequeuedUndecodable(count: number): void {
    this.addPermits(count);
  }

  private maxUncompressedSize(): number {
    return this.opts.maxUncompressedMessageSize ?? this.opts.maxChunkedMessageSize;
  }

  private skip(id: MessageId): boolean {
    if (this.opts.durable) return false;
    const start = this.lastDequeued ?? this.startId;
    if (!start || start.ledgerId < 0 || start.compareTo(MessageId.latest) === 0) return false;
    const c = id.compareTo(start);
    return this.lastDequeued ? c <= 0 : this.startInclusive ? c < 0 : c <= 0;
  }

  onMessage(cmd: NonNullable<BaseCommandPb["message"]>, frame: Frame): void {
    if (this.state !== "ready" || this.seeking) return;
    this.receivedSinceActivation = true;
    const idData = cmd.messageId ?? {};
    const md = frame.metadata;
    const payload = frame.payload;
    if (!md || !payload) return;
    const numInBatch = md.numMessagesInBatch;
    const count = numInBatch ?? 1;
    this.received(count);
    if (!frame.checksumOk) {
      this.undecodable(idData, count, "CHECKSUM", "the payload does not match its CRC32C checksum");
      return;
    }
    let whole = payload;
    const chunked = (md.numChunksFromMsg ?? 1) > 1 && md.uuid !== undefined;
    if (chunked) {
      const assembled = this.addChunk(md, idData, payload);
      if (!assembled) return;
      if (assembled === "too-big") {
        this.undecodable(
          idData,
          count,
          "MESSAGE_TOO_BIG",
          `chunked message of ${md.totalChunkMsgSize ?? "?"} bytes exceeds maxChunkedMessageSize (${this.opts.maxChunkedMessageSize})`,
        );
        return;
      }
      whole = assembled;
    }
    const type = compressionName(md.compression);
    if (!type) {
      this.undecodable(idData, count, "COMPRESSION", `unknown compression ${md.compression} (no codec for it)`);
      return;
    }
    const declared = type === "NONE" ? whole.length : (md.uncompressedSize ?? 0);
    const limit = chunked ? this.opts.maxChunkedMessageSize : this.maxUncompressedSize();
    if (declared > limit) {
      this.undecodable(
        idData,
        count,
        "MESSAGE_TOO_BIG",
        `declares ${declared} bytes uncompressed, above ${chunked ? "maxChunkedMessageSize" : "maxUncompressedMessageSize"} (${limit})`,
      );
      return;
    }
    let data: Buffer;
    try {
      data = decompress(type, whole, declared);
    } catch (err) {
      this.undecodable(
        idData,
        count,
        "COMPRESSION",
        `${type} payload: ${(err as Error).cause ?? (err as Error).message}`,
        err,
      );
      return;
    }
    this.measured(count, data.length);
    const ledgerId = idData.ledgerId ?? -1n;
    const entryId = idData.entryId ?? -1n;
    const redeliveryCount = cmd.redeliveryCount ?? 0;
    const base = {
      topic: this.topic,
      publishTime: Number(md.publishTime ?? 0n),
      redeliveryCount,
      producerName: md.producerName ?? "",
      schemaVersion: md.schemaVersion ? Buffer.from(md.schemaVersion) : undefined,
      ownerId: this.index,
    };
    const out: Message[] = [];
    if (numInBatch === undefined) {
      const id = new MessageId(ledgerId, entryId, this.partition, -1, undefined, this.topic);
      if (this.skip(id)) {
        this.addPermits(1);
        return;
      }
      out.push(
        new Message({
          ...base,
          data,
          key: md.partitionKey,
          hasBase64EncodedKey: md.partitionKeyB64Encoded ?? false,
          orderingKey: md.orderingKey ? Buffer.from(md.orderingKey) : undefined,
          properties: propsOf(md.properties),
          eventTime: md.eventTime !== undefined && md.eventTime > 0n ? Number(md.eventTime) : undefined,
          messageId: id,
          sequenceId: md.sequenceId ?? 0n,
        }),
      );
    } else {
      let entries: ReturnType<typeof parseBatch>;
      try {
        entries = parseBatch(data, numInBatch);
      } catch (err) {
        this.undecodable(idData, count, "PROTOCOL", `malformed batch of ${numInBatch} messages`, err);
        return;
      }
      const ackSet = cmd.ackSet;
      let handedOut = 0;
      let skipped = 0;
      let acknowledgedEarlier = 0;
      entries.forEach((e, i) => {
        if (ackSet && ackSet.length > 0) {
          const word = ackSet[i >> 6] ?? 0n;
          if (((word >> BigInt(i & 63)) & 1n) === 0n) {
            skipped++;
            return;
          }
        }
        const id = new MessageId(ledgerId, entryId, this.partition, i, numInBatch, this.topic);
        if (this.batchAcks.alreadyAcknowledged(id)) {
          // Acknowledged in an earlier delivery of this entry (before a reconnect or a redelivery).
          skipped++;
          acknowledgedEarlier++;
          return;
        }
        if (e.metadata.compactedOut || this.skip(id)) {
          skipped++;
          return;
        }
        handedOut++;
        out.push(
          new Message({
            ...base,
            // A view into the batch, like the payload of a message sent alone: no copy per message.
            data: e.payload,
            key: e.metadata.partitionKey,
            hasBase64EncodedKey: e.metadata.partitionKeyB64Encoded ?? false,
            orderingKey: e.metadata.orderingKey ? Buffer.from(e.metadata.orderingKey) : undefined,
            properties: propsOf(e.metadata.properties),
            eventTime:
              e.metadata.eventTime !== undefined && e.metadata.eventTime > 0n
                ? Number(e.metadata.eventTime)
                : undefined,
            messageId: id,
            sequenceId: e.metadata.sequenceId ?? (md.sequenceId ?? 0n) + BigInt(i),
          }),
        );
      });
      if (handedOut === 0) {
        // Everything in this entry is already acknowledged or filtered out.
        if (
          this.opts.durable &&
          skipped === entries.length &&
          ((ackSet && ackSet.length > 0) || acknowledgedEarlier > 0)
        ) {
          this.batchAcks.settled({ ledgerId, entryId });
          this.sendAck([{ ledgerId, entryId }], 0);
        }
        this.addPermits(count);
        return;
      }
      this.batchAcks.delivered(out.map((message) => message.messageId));
      if (skipped + (count - entries.length) > 0) this.addPermits(skipped + Math.max(0, count - entries.length));
    }
    this.parent.enqueue(out);
  }

  /**
   * Collects one chunk; returns the whole payload once the last chunk arrived ("too-big" when it exceeds
   * maxChunkedMessageSize; its chunk ids are kept so that acknowledging it acknowledges every chunk).
   */
  private addChunk(
    md: NonNullable<Frame["metadata"]>,
    idData: MessageIdDataPb,
    payload: Buffer,
  ): Buffer | "too-big" | undefined {
    const uuid = md.uuid!;
    const chunkId = md.chunkId ?? 0;
    const total = md.numChunksFromMsg ?? 1;
    const id = { ledgerId: idData.ledgerId ?? 0n, entryId: idData.entryId ?? 0n };
    const now = Date.now();
    if (chunkId === 0) {
      this.chunkedInProgress.delete(uuid);
      while (this.chunkedInProgress.size >= this.opts.maxPendingChunkedMessage) this.dropOldestChunked();
      this.chunkedInProgress.set(uuid, {
        parts: [],
        ids: [],
        bytes: 0,
        startedAt: now,
        tooBig: (md.totalChunkMsgSize ?? 0) > this.opts.maxChunkedMessageSize,
      });
      this.armChunkTimer();
    }
    const ctx = this.chunkedInProgress.get(uuid);
    if (!ctx || ctx.ids.length !== chunkId) {
      // A chunk without its predecessors (redelivery after a partial ack, or a lost start). Like the Java client:
      // acknowledged once it is older than the expiry time (it can never complete), else left for redelivery.
      if (ctx && chunkId > ctx.ids.length) this.chunkedInProgress.delete(uuid);
      this.addPermits(1);
      const expiry = this.opts.expireTimeOfIncompleteChunkedMessageMs;
      if (expiry > 0 && now > Number(md.publishTime ?? 0n) + expiry) {
        this.sendAck([id], 0);
        this.parent.countExpiredChunks(1);
      }
      return undefined;
    }
    ctx.ids.push(id);
    if (!ctx.tooBig) {
      ctx.bytes += payload.length;
      if (ctx.bytes > this.opts.maxChunkedMessageSize) {
        ctx.tooBig = true;
        ctx.parts = [];
      } else ctx.parts.push(Buffer.from(payload));
    }
    if (chunkId < total - 1) {
      this.addPermits(1);
      return undefined;
    }
    this.chunkedInProgress.delete(uuid);
    this.chunkIds.set(entryKey(id), ctx.ids);
    return ctx.tooBig ? "too-big" : Buffer.concat(ctx.parts);
  }

  private dropOldestChunked(): void {
    const [uuid, oldest] = this.chunkedInProgress.entries().next().value ?? [];
    if (uuid === undefined || !oldest) return;
    this.chunkedInProgress.delete(uuid);
    if (this.opts.autoAckOldestChunkedMessageOnQueueFull) this.sendAck(oldest.ids, 0);
    this.parent.countExpiredChunks(oldest.ids.length);
  }

  private armChunkTimer(): void {
    const expiry = this.opts.expireTimeOfIncompleteChunkedMessageMs;
    if (expiry <= 0 || this.chunkTimer) return;
    this.chunkTimer = setInterval(() => this.expireChunks(), Math.max(50, Math.min(expiry / 2, 5000)));
    this.chunkTimer.unref();
  }

  /** Drops incomplete chunked messages older than the expiry time and acknowledges their chunks. */
  private expireChunks(): void {
    const cutoff = Date.now() - this.opts.expireTimeOfIncompleteChunkedMessageMs;
    for (const [uuid, ctx] of this.chunkedInProgress) {
      if (ctx.startedAt > cutoff) continue;
      this.chunkedInProgress.delete(uuid);
      this.sendAck(ctx.ids, 0);
      this.parent.countExpiredChunks(ctx.ids.length);
    }
    if (this.chunkedInProgress.size === 0 && this.chunkTimer) {
      clearInterval(this.chunkTimer);
      this.chunkTimer = undefined;
    }
  }

  /** Called when the application takes a message from the queue. */
  dequeued(msg: Message): void {
    this.lastDequeued = msg.messageId;
    if (this.opts.ackTimeoutMs > 0) {
      this.unacked.set(msg.messageId.toString(), { msg, deadline: Date.now() + this.opts.ackTimeoutMs });
    }
    this.addPermits(1);
  }

  /**
   * Sends an acknowledgement; while disconnected it is held and sent once subscribed again, before any permit:
   * dropping it would bring back, after the reconnect, a message that was processed.
   */
  private sendAck(ids: MessageIdDataPb[], ackType: number): void {
    if (!this.conn || this.state !== "ready") {
      const [target] = ids;
      if (ackType === 1 && target) {
        const held = this.heldCumulativeAck;
        const ahead =
          !held ||
          BigInt(target.ledgerId ?? 0) > BigInt(held.ledgerId ?? 0) ||
          (BigInt(target.ledgerId ?? 0) === BigInt(held.ledgerId ?? 0) &&
            BigInt(target.entryId ?? 0) > BigInt(held.entryId ?? 0));
        if (ahead) this.heldCumulativeAck = target;
      } else if (ackType !== 1) this.heldAcks.push(...ids);
      return;
    }
    this.conn.write({ type: CommandType.ACK, ack: { consumerId: this.consumerId, ackType, messageId: ids } });
  }

  /** Sends the acknowledgements held while disconnected. */
  private sendHeldAcks(): void {
    const individual = this.heldAcks.splice(0);
    const cumulative = this.heldCumulativeAck;
    this.heldCumulativeAck = undefined;
    if (individual.length > 0) this.sendAck(individual, 0);
    if (cumulative) this.sendAck([cumulative], 1);
  }

  private forget(id: MessageId, cumulative: boolean): void {
    if (this.nacked.size === 0 && this.unacked.size === 0) return;
    const key = id.toString();
    this.nacked.delete(key);
    if (!cumulative) {
      this.unacked.delete(key);
      return;
    }
    for (const [k, { msg }] of this.unacked) {
      if (msg.messageId.compareTo(id) <= 0) this.unacked.delete(k);
    }
  }

  async acknowledge(id: MessageId, txn: Transaction | undefined): Promise<void> {
    this.forget(id, false);
    const key = entryKey(id);
    if (!this.batchAcks.acknowledged(id, txn === undefined)) return;
    const ids = this.chunkIds.get(key) ?? [{ ledgerId: id.ledgerId, entryId: id.entryId }];
    this.chunkIds.delete(key);
    if (txn) return this.ackWithTxn(ids, 0, txn);
    if (this.opts.ackReceiptEnabled) return this.ackWithReceipt(ids, 0);
    this.sendAck(ids, 0);
  }

  async acknowledgeCumulative(id: MessageId, txn: Transaction | undefined): Promise<void> {
    if (this.shared) {
      throw new PulsarClientError(
        "INVALID_CONFIG",
        "cumulative acknowledgement is not allowed on Shared/Key_Shared subscriptions",
      );
    }
    this.forget(id, true);
    let target: MessageIdDataPb = { ledgerId: id.ledgerId, entryId: id.entryId };
    if (!this.batchAcks.acknowledgedUpTo(id)) {
      // Not the last message of its batch: acknowledge up to the previous entry, keep the rest of this batch.
      if (id.entryId === 0n) return;
      target = { ledgerId: id.ledgerId, entryId: id.entryId - 1n };
    }
    if (txn) return this.ackWithTxn([target], 1, txn);
    if (this.opts.ackReceiptEnabled) return this.ackWithReceipt([target], 1);
    this.sendAck([target], 1);
  }

  /**
   * Sends an acknowledgement with a `request_id` and waits for the broker's answer. While disconnected nothing is
   * held: the caller learns the message is not acknowledged, and the broker delivers it again after the reconnect.
   */
  private async ackWithReceipt(ids: MessageIdDataPb[], ackType: number): Promise<void> {
    const conn = this.conn;
    if (!conn || this.state !== "ready") {
      throw new PulsarClientError(
        "CONNECTION_FAILED",
        `not acknowledged: the consumer of ${this.topic} is not connected`,
      );
    }
    const requestId = conn.newRequestId();
    const answer = conn.request(
      { type: CommandType.ACK, ack: { consumerId: this.consumerId, ackType, messageId: ids, requestId } },
      requestId,
      "acknowledge",
    );
    // A broker that closed this consumer (topic unload) drops its acks without an answer: the wait ends with the
    // session, not with the request timeout.
    const resp = await new Promise<Awaited<typeof answer>>((resolve, reject) => {
      this.receiptWaits.add(reject);
      answer.then(resolve, reject).finally(() => this.receiptWaits.delete(reject));
    });
    const r = resp.ackResponse;
    if (r?.error !== undefined) throw serverError(r.error, r.message, "acknowledge");
  }

  private async ackWithTxn(ids: MessageIdDataPb[], ackType: number, txn: Transaction): Promise<void> {
    if (txn.state !== "OPEN")
      throw new PulsarClientError("INVALID_TXN_STATUS", `transaction ${txn.id} is ${txn.state}`);
    await txn.addSubscription(this.topic, this.opts.subscription);
    const conn = this.conn;
    if (!conn || this.state !== "ready") throw new PulsarClientError("CONNECTION_FAILED", "consumer is not connected");
    const requestId = conn.newRequestId();
    const resp = await conn.request(
      {
        type: CommandType.ACK,
        ack: {
          consumerId: this.consumerId,
          ackType,
          messageId: ids,
          txnidMostBits: txn.mostBits,
          txnidLeastBits: txn.leastBits,
          requestId,
        },
      },
      requestId,
      "transactional acknowledge",
    );
    const r = resp.ackResponse;
    if (r?.error !== undefined) throw serverError(r.error, r.message, "transactional acknowledge");
  }

  negativeAcknowledge(msg: Message): void {
    const key = msg.messageId.toString();
    this.unacked.delete(key);
    this.nacked.set(key, { msg, deadline: Date.now() + this.opts.negativeAckRedeliveryDelayMs });
    if (!this.nackTimer) this.armNackTimer();
  }

  private armNackTimer(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const { deadline } of this.nacked.values()) earliest = Math.min(earliest, deadline);
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.nackTimer = setTimeout(
      () => {
        this.nackTimer = undefined;
        const now = Date.now();
        const due: Message[] = [];
        for (const [k, { msg, deadline }] of this.nacked) {
          if (deadline <= now) {
            due.push(msg);
            this.nacked.delete(k);
          }
        }
        if (due.length) this.redeliver(due);
        this.armNackTimer();
      },
      Math.max(0, earliest - Date.now()),
    );
    this.nackTimer.unref();
  }

  private checkAckTimeouts(): void {
    if (this.unacked.size === 0) return;
    const now = Date.now();
    const due: Message[] = [];
    for (const [k, { msg, deadline }] of this.unacked) {
      if (deadline <= now) {
        due.push(msg);
        this.unacked.delete(k);
      }
    }
    if (due.length) this.redeliver(due);
  }

  private redeliver(messages: Message[]): void {
    let rest = messages;
    const policy = this.opts.deadLetterPolicy;
    if (policy) {
      const toDlq = messages.filter((m) => m.redeliveryCount >= policy.maxRedeliverCount);
      rest = messages.filter((m) => m.redeliveryCount < policy.maxRedeliverCount);
      for (const m of toDlq) {
        this.parent.sendToDeadLetter(m).then(
          () => this.acknowledge(m.messageId, undefined),
          () => this.redeliverIds([m]),
        );
      }
    }
    if (rest.length) this.redeliverIds(rest);
  }

  /**
   * Asks the broker to send everything unacknowledged again (a single-active dispatcher rewinds to the first
   * unacknowledged message); the prefetched copies are dropped first. Messages the broker sent before it took the
   * request may still arrive and then come once more. No consumer epoch goes with the request: the broker takes a
   * new epoch even when it ignores the rewind (another one pending, this consumer no longer the active one), and a
   * read it had parked keeps the older epoch, so dropping what carries it could skip messages for good.
   */
  private rewindOnBroker(): void {
    if (!this.conn || this.state !== "ready") return;
    const dropped = this.parent.dropQueued(this.index);
    this.batchAcks.clear();
    this.chunkedInProgress.clear();
    this.unacked.clear();
    this.nacked.clear();
    this.conn.write({
      type: CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES,
      redeliverUnacknowledgedMessages: { consumerId: this.consumerId },
    });
    this.addPermits(dropped);
  }

  private redeliverIds(messages: Message[]): void {
    if (!this.conn || this.state !== "ready") return;
    if (!this.shared) {
      // Single-active dispatchers can only rewind everything.
      this.rewindOnBroker();
      return;
    }
    const seen = new Set<string>();
    const ids: MessageIdDataPb[] = [];
    for (const m of messages) {
      const k = entryKey(m.messageId);
      if (seen.has(k)) continue;
      seen.add(k);
      this.batchAcks.forget(m.messageId);
      const chunks = this.chunkIds.get(k);
      if (chunks) {
        this.chunkIds.delete(k);
        ids.push(...chunks);
      } else ids.push({ ledgerId: m.messageId.ledgerId, entryId: m.messageId.entryId });
    }
    this.conn.write({
      type: CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES,
      redeliverUnacknowledgedMessages: { consumerId: this.consumerId, messageIds: ids },
    });
  }

  async seek(target: MessageId | number): Promise<void> {
    if (!this.opts.durable) {
      if (typeof target === "number") {
        throw new PulsarClientError("INVALID_CONFIG", "seek by time is only supported on durable subscriptions");
      }
      // Non-durable: resubscribe at the new position.
      this.startId = target;
      this.startInclusive = true;
      this.lastDequeued = undefined;
      await this.closeOnBroker();
      this.parent.dropQueued(this.index);
      this.scheduleReconnect();
      return;
    }
    const conn = this.conn;
    if (!conn || this.state !== "ready") throw new PulsarClientError("CONNECTION_FAILED", "consumer is not connected");
    this.seeking = true;
    this.parent.dropQueued(this.index);
    this.batchAcks.reset();
    this.heldAcks.length = 0;
    this.heldCumulativeAck = undefined;
    this.chunkedInProgress.clear();
    this.unacked.clear();
    this.nacked.clear();
    const requestId = conn.newRequestId();
    const seek: NonNullable<BaseCommandPb["seek"]> = { consumerId: this.consumerId, requestId };
    if (typeof target === "number") seek.messagePublishTime = BigInt(target);
    else seek.messageId = { ledgerId: target.ledgerId, entryId: target.entryId };
    try {
      await conn.request({ type: CommandType.SEEK, seek }, requestId, `seek on ${this.topic}`);
    } finally {
      this.seeking = false;
    }
    this.parent.dropQueued(this.index);
  }

  async getLastMessageId(): Promise<MessageId> {
    const conn = this.conn;
    if (!conn || this.state !== "ready") throw new PulsarClientError("CONNECTION_FAILED", "consumer is not connected");
    const requestId = conn.newRequestId();
    const resp = await conn.request(
      { type: CommandType.GET_LAST_MESSAGE_ID, getLastMessageId: { consumerId: this.consumerId, requestId } },
      requestId,
      "get last message id",
    );
    const d = resp.getLastMessageIdResponse?.lastMessageId ?? { ledgerId: -1n, entryId: -1n };
    return MessageId.fromData(d, this.topic, this.partition);
  }

  /** Last message handed to the application, else the configured start position. */
  get readPosition(): MessageId | undefined {
    return this.lastDequeued ?? this.startId;
  }

  private async closeOnBroker(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn || conn.closed) return;
    conn.unregisterConsumer(this.consumerId);
    const requestId = conn.newRequestId();
    await conn
      .request(
        { type: CommandType.CLOSE_CONSUMER, closeConsumer: { consumerId: this.consumerId, requestId } },
        requestId,
        "close consumer",
      )
      .catch(() => undefined);
    if (this.state === "ready") this.state = "connecting";
  }

  private stopTimers(): void {
    clearTimeout(this.activationCheck);
    this.activationCheck = undefined;
    if (this.chunkTimer) clearInterval(this.chunkTimer);
    this.chunkTimer = undefined;
    if (this.nackTimer) clearTimeout(this.nackTimer);
    if (this.ackTimer) clearInterval(this.ackTimer);
    this.nackTimer = undefined;
    this.ackTimer = undefined;
  }

  async unsubscribe(): Promise<void> {
    const conn = this.conn;
    if (!conn || this.state !== "ready") throw new PulsarClientError("CONNECTION_FAILED", "consumer is not connected");
    const requestId = conn.newRequestId();
    await conn.request(
      { type: CommandType.UNSUBSCRIBE, unsubscribe: { consumerId: this.consumerId, requestId } },
      requestId,
      `unsubscribe ${this.opts.subscription}`,
    );
    conn.unregisterConsumer(this.consumerId);
    this.state = "closed";
    this.stopTimers();
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closing";
    this.stopTimers();
    this.abandonReceipts();
    await this.closeOnBroker();
    this.state = "closed";
  }

  private abandonReceipts(): void {
    const error = new PulsarClientError(
      "CONNECTION_FAILED",
      `acknowledgement not confirmed: the consumer of ${this.topic} lost its session before the broker answered`,
    );
    for (const reject of this.receiptWaits) reject(error);
    this.receiptWaits.clear();
  }
}

/** Stands in the queue for an entry that could not be decoded. */
class Undecodable {
  readonly error: PulsarClientError;
  readonly _ownerId: number;
  readonly count: number;
  constructor(error: PulsarClientError, owner: number, count: number) {
    this.error = error;
    this._ownerId = owner;
    this.count = count;
  }
}

/** A subscription on one or more topics (partitions are separate internal consumers sharing one queue). */
export class Consumer implements AsyncIterable<Message> {
  readonly subscription: string;
  readonly topics: string[];
  private parts: PartitionConsumer[] = [];
  private queue: Array<Message | Undecodable> = [];
  private undecodable = 0;
  private expiredChunks = 0;
  private head = 0;
  private readonly waiters: Array<{
    resolve(m: Message): void;
    reject(e: PulsarClientError): void;
    timer?: NodeJS.Timeout;
  }> = [];
  private closed = false;
  private failure: PulsarClientError | undefined;
  private dlqProducer: Promise<Producer> | undefined;
  private readonly endedParts = new Set<number>();

  /** @internal */
  private readonly ctx: ClientContext;
  private readonly opts: ResolvedOptions;

  constructor(ctx: ClientContext, opts: ResolvedOptions, topics: string[]) {
    this.ctx = ctx;
    this.opts = opts;
    this.subscription = opts.subscription;
    this.topics = topics;
  }

  /** @internal */
  static async create(ctx: ClientContext, resolve: TopicResolver, options: ConsumerOptions): Promise<Consumer> {
    if (!options || typeof options.subscription !== "string" || options.subscription === "") {
      throw new PulsarClientError("INVALID_CONFIG", "subscription name is required");
    }
    const type = options.subscriptionType ?? "Exclusive";
    if (!(type in SUB_TYPES))
      throw new PulsarClientError("INVALID_CONFIG", `unknown subscription type ${String(type)}`);
    const opts: ResolvedOptions = {
      ...options,
      subscriptionType: type,
      receiverQueueSize: Math.max(1, options.receiverQueueSize ?? 1000),
      negativeAckRedeliveryDelayMs: Math.max(0, options.negativeAckRedeliveryDelayMs ?? 60_000),
      ackTimeoutMs: Math.max(0, options.ackTimeoutMs ?? 0),
      durable: options.durable ?? true,
      maxChunkedMessageSize: positiveOption(options, "maxChunkedMessageSize", 64 * 1024 * 1024),
      maxPrefetchBytes: positiveOption(options, "maxPrefetchBytes", 64 * 1024 * 1024),
      maxPendingChunkedMessage: positiveOption(options, "maxPendingChunkedMessage", 10),
      expireTimeOfIncompleteChunkedMessageMs: Math.max(0, options.expireTimeOfIncompleteChunkedMessageMs ?? 60_000),
    };
    if (options.ackReceiptEnabled !== undefined && typeof options.ackReceiptEnabled !== "boolean") {
      throw new PulsarClientError(
        "INVALID_CONFIG",
        `ackReceiptEnabled must be a boolean, got ${String(options.ackReceiptEnabled)}`,
      );
    }
    if (options.maxUncompressedMessageSize !== undefined) positiveOption(options, "maxUncompressedMessageSize", 0);
    const names = await subscribedNames(ctx, options);
    if (names.length === 0 && options.topicsPattern === undefined) {
      throw new PulsarClientError("INVALID_CONFIG", "topic, topics or topicsPattern is required");
    }
    for (const n of names) parseTopicName(n);
    const resolved = await resolve(names);
    const consumer = new Consumer(
      ctx,
      opts,
      resolved.map((r) => r.topic),
    );
    consumer.parts = resolved.map(
      (r, i) => new PartitionConsumer(consumer, ctx, opts, r.topic, r.partition, r.base, i),
    );
    try {
      await Promise.all(consumer.parts.map((p) => p.start()));
    } catch (err) {
      await Promise.all(consumer.parts.map((p) => p.close().catch(() => undefined)));
      throw err;
    }
    consumer.names = names;
    consumer.resolve = resolve;
    const period = Math.min(
      ...[
        options.autoUpdatePartitionsIntervalMs ?? 60_000,
        options.topicsPattern !== undefined ? (options.patternAutoDiscoveryPeriodMs ?? 60_000) : 0,
      ].filter((ms) => ms > 0),
    );
    if (Number.isFinite(period) && (options.topicsPattern !== undefined || resolved.some((r) => r.topic !== r.base))) {
      consumer.refreshTimer = setInterval(() => void consumer.refreshTopics(), period);
      consumer.refreshTimer.unref();
    }
    ctx.track(consumer);
    return consumer;
  }

  private names: string[] = [];
  private resolve: TopicResolver | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing = false;

  /** Subscribes to partitions added since creation and to new topics matching the pattern. */
  private async refreshTopics(): Promise<void> {
    if (this.refreshing || this.closed || !this.resolve) return;
    this.refreshing = true;
    try {
      if (this.opts.topicsPattern !== undefined) this.names = await subscribedNames(this.ctx, this.opts);
      const resolved = await this.resolve(this.names);
      const have = new Set(this.parts.map((p) => p.topic));
      const fresh = resolved.filter((r) => !have.has(r.topic));
      if (fresh.length === 0) return;
      const added = fresh.map(
        (r, i) => new PartitionConsumer(this, this.ctx, this.opts, r.topic, r.partition, r.base, this.parts.length + i),
      );
      try {
        await Promise.all(added.map((p) => p.start()));
      } catch {
        await Promise.all(added.map((p) => p.close().catch(() => undefined)));
        return;
      }
      if (this.closed) {
        await Promise.all(added.map((p) => p.close()));
        return;
      }
      this.parts.push(...added);
      this.topics.push(...added.map((p) => p.topic));
    } catch {
      // retried at the next period
    } finally {
      this.refreshing = false;
    }
  }

  /** @internal */
  get partitionCount(): number {
    return Math.max(1, this.parts.length);
  }

  /** Bytes of received messages waiting for the application (bounded by maxPrefetchBytes). */
  get prefetchedBytes(): number {
    return this.parts.reduce((n, p) => n + p.queuedBytes, 0);
  }

  /** @internal */
  enqueue(messages: Message[]): void {
    for (const m of messages) {
      const w = this.waiters.shift();
      if (w) {
        if (w.timer) clearTimeout(w.timer);
        this.parts[m._ownerId]?.dequeued(m);
        w.resolve(m);
      } else {
        const part = this.parts[m._ownerId];
        if (part) part.queuedBytes += m.data.length;
        this.queue.push(m);
      }
    }
  }

  /** @internal An entry that could not be decoded: its error takes the messages' place in the queue. */
  enqueueUndecodable(error: PulsarClientError, owner: number, count: number): void {
    this.undecodable += count;
    const entry = new Undecodable(error, owner, count);
    const w = this.waiters.shift();
    if (w) {
      if (w.timer) clearTimeout(w.timer);
      this.parts[owner]?.dequeuedUndecodable(count);
      w.reject(error);
    } else this.queue.push(entry);
  }

  /** @internal */
  countExpiredChunks(n: number): void {
    this.expiredChunks += n;
  }

  /**
   * Messages received that could not be decoded (bad checksum, unknown codec, corrupt payload, over the size
   * limits): each was surfaced through receive() and left unacknowledged.
   */
  get undecodableMessages(): number {
    return this.undecodable;
  }

  /** Chunks dropped from incomplete chunked messages (expired, orphaned or over maxPendingChunkedMessage). */
  get expiredChunkCount(): number {
    return this.expiredChunks;
  }

  /** @internal Removes prefetched messages of one partition; returns the permits they stand for. */
  dropQueued(owner: number): number {
    let permits = 0;
    this.queue = this.queue.slice(this.head).filter((m) => {
      if (m._ownerId !== owner) return true;
      // An entry that could not be decoded stands for every message of its batch.
      permits += m instanceof Undecodable ? m.count : 1;
      return false;
    });
    this.head = 0;
    const part = this.parts[owner];
    if (part) part.queuedBytes = 0;
    return permits;
  }

  /** @internal */
  partitionFailed(err: PulsarClientError): void {
    this.failure = err;
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** @internal */
  reachedEnd(index: number): void {
    this.endedParts.add(index);
  }

  /** True when every topic was terminated and fully consumed. */
  get hasReachedEndOfTopic(): boolean {
    return this.endedParts.size === this.parts.length;
  }

  /** @internal */
  async sendToDeadLetter(msg: Message): Promise<void> {
    const policy = this.opts.deadLetterPolicy!;
    const part = this.parts[msg._ownerId]!;
    this.dlqProducer ??= (async () => {
      const topic = parseTopicName(policy.deadLetterTopic ?? `${part.baseTopic}-${this.subscription}-DLQ`).full;
      const n = await this.ctx.partitions(topic);
      return ProducerClass.create(this.ctx, topic, n, { topic, batchingEnabled: false });
    })();
    this.dlqProducer.catch(() => {
      this.dlqProducer = undefined;
    });
    const producer = await this.dlqProducer;
    await producer.send({
      value: msg.data,
      ...(msg.key !== undefined ? { key: msg.key } : {}),
      properties: { ...msg.properties, REAL_TOPIC: msg.topic, ORIGIN_MESSAGE_ID: msg.messageId.toString() },
      ...(msg.eventTime !== undefined ? { eventTime: msg.eventTime } : {}),
    });
  }

  /** Waits for the next message. With `timeoutMs`, rejects with TIMEOUT when nothing arrives in time. */
  receive(timeoutMs?: number): Promise<Message> {
    if (this.closed) return Promise.reject(new PulsarClientError("CLOSED", "consumer is closed"));
    if (this.head < this.queue.length) {
      const m = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (m instanceof Undecodable) {
        this.parts[m._ownerId]?.dequeuedUndecodable(m.count);
        return Promise.reject(m.error);
      }
      const part = this.parts[m._ownerId];
      if (part) {
        part.queuedBytes = Math.max(0, part.queuedBytes - m.data.length);
        part.dequeued(m);
      }
      return Promise.resolve(m);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Message>((resolve, reject) => {
      const waiter: { resolve(m: Message): void; reject(e: PulsarClientError): void; timer?: NodeJS.Timeout } = {
        resolve,
        reject,
      };
      if (timeoutMs !== undefined && timeoutMs >= 0) {
        waiter.timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new PulsarClientError("TIMEOUT", `no message within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Message> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (err) {
        if (err instanceof PulsarClientError && err.code === "CLOSED") return;
        throw err;
      }
    }
  }

  private partOf(id: MessageId): PartitionConsumer {
    if (this.parts.length === 1) return this.parts[0]!;
    const byTopic = id.topic !== undefined ? this.parts.find((p) => p.topic === id.topic) : undefined;
    if (byTopic) return byTopic;
    const byPartition = this.parts.filter((p) => p.partition === id.partition);
    if (byPartition.length === 1) return byPartition[0]!;
    throw new PulsarClientError("INVALID_CONFIG", `cannot tell which topic message id ${id.toString()} belongs to`);
  }

  private idOf(target: Message | MessageId): MessageId {
    if (target instanceof Message) return target.messageId;
    if (target instanceof MessageId) return target;
    throw new PulsarClientError("INVALID_CONFIG", "expected a Message or MessageId");
  }

  async acknowledge(target: Message | MessageId, options: AcknowledgeOptions = {}): Promise<void> {
    if (this.closed) throw new PulsarClientError("CLOSED", "consumer is closed");
    const id = this.idOf(target);
    await this.partOf(id).acknowledge(id, options.txn);
  }

  async acknowledgeCumulative(target: Message | MessageId, options: AcknowledgeOptions = {}): Promise<void> {
    if (this.closed) throw new PulsarClientError("CLOSED", "consumer is closed");
    const id = this.idOf(target);
    await this.partOf(id).acknowledgeCumulative(id, options.txn);
  }

  negativeAcknowledge(target: Message): void {
    if (this.closed) return;
    if (!(target instanceof Message))
      throw new PulsarClientError("INVALID_CONFIG", "negativeAcknowledge needs a Message");
    this.parts[target._ownerId]?.negativeAcknowledge(target);
  }

  /** Rewinds or forwards the subscription to a message id or a publish time (ms since epoch) on every partition. */
  async seek(target: MessageId | number): Promise<void> {
    if (this.closed) throw new PulsarClientError("CLOSED", "consumer is closed");
    if (typeof target === "number") {
      await Promise.all(this.parts.map((p) => p.seek(target)));
      return;
    }
    const id = this.idOf(target);
    if (this.parts.length > 1 && id.topic === undefined && id.partition < 0) {
      await Promise.all(this.parts.map((p) => p.seek(id)));
      return;
    }
    await this.partOf(id).seek(id);
  }

  /** Whether the broker currently dispatches to this consumer (Failover/Exclusive), per topic partition. */
  isActive(topic?: string): boolean | undefined {
    const p = topic ? this.parts.find((x) => x.topic === topic) : this.parts[0];
    return p?.active;
  }

  /** Last message id of the (first) topic. */
  async getLastMessageId(): Promise<MessageId> {
    return this.parts[0]!.getLastMessageId();
  }

  /** @internal */
  get partitions(): readonly PartitionConsumer[] {
    return this.parts;
  }

  async unsubscribe(): Promise<void> {
    if (this.closed) throw new PulsarClientError("CLOSED", "consumer is closed");
    await Promise.all(this.parts.map((p) => p.unsubscribe()));
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.ctx.untrack(this);
    await Promise.all(this.parts.map((p) => p.close()));
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new PulsarClientError("CLOSED", "consumer closed"));
    }
    this.queue = [];
    this.head = 0;
    if (this.dlqProducer) await this.dlqProducer.then((p) => p.close()).catch(() => undefined);
  }
}

/**
 * A `topicsPattern` given as a string matches the whole topic name, without its `persistent://` scheme, as the Java
 * client does; RE2 matches in linear time, so a pattern from an untrusted config cannot freeze the event loop.
 */
// RE2 (about 260 kB of code) loads with the first topicsPattern, not with every client.
let re2: typeof RE2JS | undefined;

export function topicsPatternMatcher(pattern: string): { test(topic: string): boolean } {
  let compiled: RE2JS;
  try {
    re2 ??= (createRequire(import.meta.url)("re2js") as typeof import("re2js")).RE2JS;
    compiled = re2.compile(withoutScheme(pattern));
  } catch (err) {
    throw new PulsarClientError(
      "INVALID_CONFIG",
      `topicsPattern is not a valid RE2 expression: ${(err as Error).message}`,
    );
  }
  return { test: (topic) => compiled.matches(withoutScheme(topic)) };
}

function withoutScheme(name: string): string {
  return name.replace(/^(?:non-)?persistent:\/\//, "");
}

/** The named topics (`topic`/`topics`) and the topics `topicsPattern` matches now, each once. */
async function subscribedNames(ctx: ClientContext, options: ConsumerOptions): Promise<string[]> {
  const named = options.topics ?? (options.topic !== undefined ? [options.topic] : []);
  if (options.topicsPattern === undefined) return named;
  const seen = new Set(named.map((name) => parseTopicName(name).full));
  const matched = await discoverTopics(ctx, options.topicsPattern);
  return [...named, ...matched.filter((name) => !seen.has(parseTopicName(name).full))];
}

/** Base topic names of the namespace named in the pattern that match it. */
async function discoverTopics(ctx: ClientContext, pattern: string | RegExp): Promise<string[]> {
  const re: { test(topic: string): boolean } = typeof pattern === "string" ? topicsPatternMatcher(pattern) : pattern;
  const source = typeof pattern === "string" ? pattern : pattern.source.replace(/\\\//g, "/");
  const ns = /^(?:persistent:\/\/)?([^/]+\/[^/]+)\//.exec(source);
  if (!ns)
    throw new PulsarClientError("INVALID_CONFIG", "topicsPattern must start with [persistent://]tenant/namespace/");
  const all = await ctx.listTopics(ns[1]!);
  const bases = new Set(all.map((t) => t.replace(/-partition-\d+$/, "")));
  return [...bases].filter((t) => re.test(t)).sort();
}

export interface ReaderOptions {
  topic: string;
  /** MessageId.earliest, MessageId.latest or a message id. */
  startMessageId: MessageId;
  /** Include the message at startMessageId itself. Default false. */
  startMessageIdInclusive?: boolean;
  readerName?: string;
  subscriptionName?: string;
  receiverQueueSize?: number;
  readCompacted?: boolean;
  schema?: SchemaInfo;
}

/** Reads a topic from a position on a non-durable subscription, without acknowledgements. */
export class Reader implements AsyncIterable<Message> {
  /** @internal */
  private readonly consumer: Consumer;
  constructor(consumer: Consumer) {
    this.consumer = consumer;
  }

  get topic(): string {
    return this.consumer.topics[0]!;
  }

  readNext(timeoutMs?: number): Promise<Message> {
    return this.consumer.receive(timeoutMs);
  }

  /** True when messages after the last one read exist on the topic. */
  async hasMessageAvailable(): Promise<boolean> {
    for (const p of this.consumer.partitions) {
      const last = await p.getLastMessageId();
      if (last.entryId < 0n) continue;
      const read = p.readPosition;
      if (!read) return true;
      if (read.compareTo(MessageId.latest) === 0) continue;
      if (read.compareTo(last) < 0) return true;
    }
    return false;
  }

  seek(target: MessageId): Promise<void> {
    return this.consumer.seek(target);
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this.consumer[Symbol.asyncIterator]();
  }

  close(): Promise<void> {
    return this.consumer.close();
  }
}

/** @internal */
export async function createReader(
  ctx: ClientContext,
  resolve: TopicResolver,
  options: ReaderOptions,
): Promise<Reader> {
  if (!options || !(options.startMessageId instanceof MessageId)) {
    throw new PulsarClientError("INVALID_CONFIG", "startMessageId (a MessageId) is required");
  }
  const consumer = await Consumer.create(ctx, resolve, {
    topic: options.topic,
    subscription: options.subscriptionName ?? `reader-${Math.random().toString(16).slice(2, 12)}`,
    subscriptionType: "Exclusive",
    durable: false,
    startMessageId: options.startMessageId,
    startMessageIdInclusive: options.startMessageIdInclusive ?? false,
    subscriptionInitialPosition: options.startMessageId.compareTo(MessageId.earliest) === 0 ? "Earliest" : "Latest",
    ...(options.readerName ? { consumerName: options.readerName } : {}),
    ...(options.receiverQueueSize ? { receiverQueueSize: options.receiverQueueSize } : {}),
    ...(options.readCompacted ? { readCompacted: options.readCompacted } : {}),
    ...(options.schema ? { schema: options.schema } : {}),
  });
  return new Reader(consumer);
}
