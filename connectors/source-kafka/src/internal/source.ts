import {
  ConnectorError,
  type Logger,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import { brokerList, isRetriable, kafkaLogCreator, securityOptions } from "@pulsar-connect/kafka-common";
import type { Consumer, ConsumerConfig, EachBatchPayload, KafkaMessage } from "kafkajs";
import kafkajs from "kafkajs";
import type { KafkaSourceConfig } from "../definition.ts";
import { type Delivery, OffsetTracker } from "./offset-tracker.ts";

const { Kafka, logLevel } = kafkajs;

/** A fetched message waiting for `read`. */
interface Buffered {
  partition: number;
  tracker: OffsetTracker;
  message: KafkaMessage;
}

/** Kafka consumer options from the config (explicit fields win over consumerConfigProperties). */
export function consumerOptions(config: KafkaSourceConfig): ConsumerConfig & { bufferSize: number } {
  const props = config.consumerConfigProperties ?? {};
  const num = (key: string): number | undefined => (props[key] === undefined ? undefined : Number(props[key]));
  const options: ConsumerConfig & { bufferSize: number } = {
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    heartbeatInterval: config.heartbeatIntervalMs,
    minBytes: config.fetchMinBytes,
    bufferSize: num("max.poll.records") ?? config.maxBufferedRecords,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000, restartOnFailure: async () => true },
  };
  const maxBytes = num("fetch.max.bytes");
  if (maxBytes !== undefined) options.maxBytes = maxBytes;
  const maxWait = num("fetch.max.wait.ms");
  options.maxWaitTimeInMs = maxWait ?? 500;
  const perPartition = num("max.partition.fetch.bytes");
  if (perPartition !== undefined) options.maxBytesPerPartition = perPartition;
  const rebalance = num("max.poll.interval.ms");
  if (rebalance !== undefined) options.rebalanceTimeout = rebalance;
  if (props["isolation.level"] === "read_uncommitted") options.readUncommitted = true;
  if (props["allow.auto.create.topics"] !== undefined) {
    options.allowAutoTopicCreation = String(props["allow.auto.create.topics"]) === "true";
  }
  return options;
}

/** Message properties for a Kafka message (upstream shape: header values base64, plus the origin). */
export function headerProperties(
  topic: string,
  partition: number,
  message: Pick<KafkaMessage, "headers" | "offset">,
  encoding: "base64" | "utf8",
): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value === undefined) continue;
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    properties[name] = bytes.toString(encoding);
  }
  properties.__kafka_topic = topic;
  properties.__kafka_partition = String(partition);
  properties.__kafka_offset = message.offset;
  return properties;
}

/**
 * A Kafka topic read through a consumer group. kafkajs fetches into a bounded buffer that `read` drains; offsets
 * are committed only for records the runtime acked, and a failed record makes its partition seek back to it.
 */
export class KafkaSource implements SourceInstance {
  private readonly config: KafkaSourceConfig;
  private readonly logger: Logger;
  private readonly consumer: Consumer;
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly context: SourceContext;
  /** How many times the topic was found deleted and created again; part of each record's partitionId. */
  private incarnation = 0;
  private readonly bufferSize: number;
  private readonly trackers = new Map<number, OffsetTracker>();
  private buffer: Buffered[] = [];
  private bufferHead = 0;
  private paused = false;
  private waiter: (() => void) | undefined;
  private fatalError: ConnectorError | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  private nextCommit: Promise<void> | undefined;
  private closed = false;

  private constructor(config: KafkaSourceConfig, context: SourceContext) {
    this.config = config;
    this.logger = context.logger;
    const { bufferSize, ...options } = consumerOptions(config);
    this.bufferSize = bufferSize;
    const props = config.consumerConfigProperties ?? {};
    const kafka = new Kafka({
      clientId: String(props["client.id"] ?? `pulsar-connect-${context.name}-${context.instanceId}`),
      brokers: brokerList(config.bootstrapServers),
      connectionTimeout: 5000,
      ...(props["request.timeout.ms"] === undefined ? {} : { requestTimeout: Number(props["request.timeout.ms"]) }),
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(context.logger),
      ...securityOptions(config),
    });
    this.consumer = kafka.consumer(options);
    this.kafka = kafka;
    this.context = context;
  }

  /** Connects, joins the group and starts fetching. */
  static async open(config: KafkaSourceConfig, context: SourceContext): Promise<KafkaSource> {
    const source = new KafkaSource(config, context);
    await source.start();
    return source;
  }

  /**
   * A topic deleted and created again starts its offsets over, and offsets are the records' sequence ids: without a
   * new partitionId its new records would look already stored under EFFECTIVELY_ONCE. When the instance opens, an
   * offset committed earlier (kept in the state store too, since Kafka drops a deleted topic's group offsets) beyond
   * the topic's end shows a recreation; each one moves the incarnation, kept in the state store, into the
   * partitionIds.
   */
  private async checkIncarnation(): Promise<void> {
    const stored = await this.context.state.get(this.incarnationKey);
    this.incarnation = stored ? Number(new TextDecoder().decode(stored)) || 0 : 0;
    const recorded = await this.context.state.get(this.offsetsKey);
    const earlier = new Map<number, bigint>(
      recorded
        ? Object.entries(JSON.parse(new TextDecoder().decode(recorded)) as Record<string, string>).map(
            ([partition, offset]) => [Number(partition), BigInt(offset)],
          )
        : [],
    );
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const [group] = await admin.fetchOffsets({ groupId: this.config.groupId, topics: [this.config.topic] });
      for (const { partition, offset } of group?.partitions ?? []) {
        if (Number(offset) >= 0 && BigInt(offset) > (earlier.get(partition) ?? -1n)) {
          earlier.set(partition, BigInt(offset));
        }
      }
      const ends = await admin.fetchTopicOffsets(this.config.topic);
      const recreated = ends.filter((p) => (earlier.get(p.partition) ?? -1n) > BigInt(p.high));
      if (recreated.length === 0) return;
      this.incarnation += 1;
      await this.context.state.put(this.incarnationKey, new TextEncoder().encode(String(this.incarnation)));
      await this.context.state.put(this.offsetsKey, new TextEncoder().encode("{}"));
      this.logger.warn(
        {
          topic: this.config.topic,
          partitions: recreated.map((p) => p.partition),
          incarnation: this.incarnation,
        },
        "Kafka topic was deleted and created again (committed offsets lie beyond its end); reading it as a new topic",
      );
    } catch (error) {
      // No topic yet, or Kafka away: the consumer reports what is wrong.
      this.logger.debug({ error: (error as Error).message }, "Kafka topic incarnation check skipped");
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private get incarnationKey(): string {
    return `kafka-topic-incarnation-${this.config.topic}`;
  }

  private get offsetsKey(): string {
    return `kafka-committed-offsets-${this.config.topic}`;
  }

  /** Committed offsets as the state store keeps them, for the recreation check of the next start. */
  private readonly recordedOffsets = new Map<number, bigint>();

  private async recordCommitted(due: Array<{ partition: number; offset: bigint }>): Promise<void> {
    for (const { partition, offset } of due) this.recordedOffsets.set(partition, offset);
    const json = JSON.stringify(
      Object.fromEntries([...this.recordedOffsets].map(([partition, offset]) => [partition, offset.toString()])),
    );
    await this.context.state.put(this.offsetsKey, new TextEncoder().encode(json)).catch((error: unknown) => {
      this.logger.debug({ error: (error as Error).message }, "could not record committed Kafka offsets");
    });
  }

  private partitionId(partition: number): string {
    const base = `${this.config.topic}-${partition}`;
    return this.incarnation === 0 ? base : `${base}@${this.incarnation}`;
  }

  private async start(): Promise<void> {
    const { consumer, config } = this;
    consumer.on(consumer.events.GROUP_JOIN, (event) => this.onAssignment(event.payload.memberAssignment));
    // Only a commit the broker confirmed moves the committed mark (kafkajs skips commits while restarting).
    consumer.on(consumer.events.COMMIT_OFFSETS, (event) => {
      for (const topic of event.payload.topics) {
        if (topic.topic !== config.topic) continue;
        for (const { partition, offset } of topic.partitions) {
          this.trackers.get(Number(partition))?.committed(BigInt(offset));
        }
      }
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const error = event.payload.error;
      if (event.payload.restart) {
        this.logger.warn({ error: error.message }, "Kafka consumer crashed; kafkajs restarts it");
        return;
      }
      this.fatalError = new ConnectorError("READ_FAILED", `Kafka consumer stopped: ${error.message}`, {
        retryable: true,
        cause: error,
      });
      this.wake();
    });
    try {
      await this.checkIncarnation();
      await consumer.connect();
      await consumer.subscribe({ topics: [config.topic], fromBeginning: config.autoOffsetReset === "earliest" });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => this.onBatch(payload),
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw new ConnectorError("CONNECTION_FAILED", `Cannot consume ${config.topic}: ${(error as Error).message}`, {
        retryable: isRetriable(error),
        cause: error,
      });
    }
    this.commitTimer = setInterval(() => void this.commit(), config.offsetCommitIntervalMs);
    this.commitTimer.unref();
  }

  /** A new generation of the group: partitions we lost drop their uncommitted work; kept ones keep it. */
  private onAssignment(assignment: Record<string, number[]>): void {
    const assigned = new Set(assignment[this.config.topic] ?? []);
    const revoked = [...this.trackers.keys()].filter((partition) => !assigned.has(partition));
    for (const partition of revoked) this.trackers.delete(partition);
    for (const partition of assigned)
      if (!this.trackers.has(partition)) this.trackers.set(partition, new OffsetTracker());
    if (revoked.length > 0) this.dropBuffered((item) => !assigned.has(item.partition));
    this.logger.info({ assigned: [...assigned], revoked }, "Kafka partitions assigned");
  }

  private onBatch(payload: EachBatchPayload): void {
    const { batch, resolveOffset } = payload;
    let tracker = this.trackers.get(batch.partition);
    if (!tracker) {
      tracker = new OffsetTracker();
      this.trackers.set(batch.partition, tracker);
    }
    for (const message of batch.messages) {
      // Mark every message fetched, so kafkajs keeps moving; commits are ours alone.
      resolveOffset(message.offset);
      if (this.closed) continue;
      if (tracker.accept(BigInt(message.offset))) {
        this.buffer.push({ partition: batch.partition, tracker, message });
      }
    }
    if (!this.paused && this.buffered() >= this.bufferSize) {
      this.paused = true;
      this.consumer.pause([{ topic: this.config.topic }]);
    }
    this.wake();
  }

  private buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  private dropBuffered(drop: (item: Buffered) => boolean): void {
    this.buffer = this.buffer.slice(this.bufferHead).filter((item) => !drop(item));
    this.bufferHead = 0;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord<Uint8Array>[]> {
    if (this.fatalError) throw this.fatalError;
    if (this.buffered() === 0 && !signal.aborted && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          if (this.waiter === done) this.waiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.config.idleReadTimeoutMs);
        signal.addEventListener("abort", done, { once: true });
        this.waiter = done;
      });
      if (this.fatalError) throw this.fatalError;
    }
    const records: SourceRecord<Uint8Array>[] = [];
    while (records.length < maxRecords && this.bufferHead < this.buffer.length) {
      const item = this.buffer[this.bufferHead++];
      if (!item || this.trackers.get(item.partition) !== item.tracker) continue;
      records.push(this.toRecord(item, item.tracker.handOut(BigInt(item.message.offset))));
    }
    if (this.bufferHead > 4096 && this.bufferHead * 2 > this.buffer.length) this.dropBuffered(() => false);
    if (this.paused && this.buffered() <= this.bufferSize / 2) {
      this.paused = false;
      this.consumer.resume([{ topic: this.config.topic }]);
    }
    return records;
  }

  private toRecord(item: Buffered, delivery: Delivery): SourceRecord<Uint8Array> {
    const { message, partition, tracker } = item;
    const topic = this.config.topic;
    const value = message.value ?? Buffer.alloc(0);
    const record: SourceRecord<Uint8Array> = {
      value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
      partitionId: this.partitionId(partition),
      sequence: delivery.offset,
      ack: () => {
        tracker.ack(delivery);
        // ATMOST_ONCE: the runtime sends the record once this settles, so its offset must be committed first.
        if (this.context.processingGuarantee === "ATMOST_ONCE")
          return this.committedBeforeSend(partition, tracker, delivery);
        return undefined;
      },
      fail: () => this.rewind(partition, tracker, delivery),
    };
    if (message.key !== null && message.key !== undefined) record.key = message.key.toString("utf8");
    const timestamp = Number(message.timestamp);
    if (Number.isFinite(timestamp) && timestamp > 0) record.eventTime = timestamp;
    if (this.config.copyHeadersEnabled) {
      record.properties = headerProperties(topic, partition, message, this.config.headerValueEncoding);
    }
    return record;
  }

  private rewind(partition: number, tracker: OffsetTracker, delivery: Delivery): void {
    if (this.trackers.get(partition) !== tracker || this.closed) return;
    const offset = tracker.rewind(delivery);
    if (offset === undefined) return;
    this.dropBuffered((item) => item.partition === partition);
    try {
      this.consumer.seek({ topic: this.config.topic, partition, offset: offset.toString() });
    } catch (error) {
      // Without a running group the next generation starts from the committed offset, which is not past this one.
      this.logger.debug({ error: (error as Error).message }, "Kafka seek skipped");
    }
    this.logger.debug({ partition, offset: offset.toString() }, "Kafka record failed; reading again from it");
  }

  /** Commits every partition whose acked prefix grew. Serialized; errors are retried on the next tick. */
  commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      try {
        await this.commitDueOffsets();
      } catch (error) {
        this.logger.warn({ error: (error as Error).message }, "Kafka offset commit failed; retrying later");
      }
    });
    return this.committing;
  }

  /**
   * Settles once the offset after `delivery` is committed by this consumer; fails when its partition was taken away
   * meanwhile (the new owner reads it again from the old committed offset, so sending it would bring it twice).
   */
  private async committedBeforeSend(partition: number, tracker: OffsetTracker, delivery: Delivery): Promise<void> {
    await this.commitBeforeSend();
    if (this.trackers.get(partition) !== tracker || !tracker.isCommitted(delivery.offset + 1n)) {
      throw new ConnectorError(
        "WRITE_FAILED",
        `Kafka partition ${partition} was reassigned before its offset was committed`,
        {
          retryable: true,
        },
      );
    }
  }

  /**
   * A commit that the acks of one batch share (those that come before it starts), after the commits before it.
   * Its failure reaches the acks, so the runtime sends nothing it could not commit.
   */
  private commitBeforeSend(): Promise<void> {
    if (this.nextCommit) return this.nextCommit;
    const commit = this.committing.then(() => {
      this.nextCommit = undefined;
      return this.commitDueOffsets();
    });
    this.nextCommit = commit;
    this.committing = commit.catch(() => {});
    return commit;
  }

  private async commitDueOffsets(): Promise<void> {
    const due: Array<{ partition: number; offset: bigint }> = [];
    for (const [partition, tracker] of this.trackers) {
      const offset = tracker.commitDue();
      if (offset !== undefined) due.push({ partition, offset });
    }
    if (due.length === 0) return;
    await this.consumer.commitOffsets(
      due.map(({ partition, offset }) => ({ topic: this.config.topic, partition, offset: offset.toString() })),
    );
    // kafkajs resolves without committing while its group rebalances; only the broker's confirmation counts.
    const unconfirmed = due.filter(({ partition, offset }) => !this.trackers.get(partition)?.isCommitted(offset));
    if (unconfirmed.length > 0) {
      throw new ConnectorError(
        "WRITE_FAILED",
        `Kafka did not confirm the offset commit of partitions ${unconfirmed.map((u) => u.partition).join(", ")}`,
        { retryable: true },
      );
    }
    await this.recordCommitted(due);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.commitTimer);
    await this.commit();
    this.closed = true;
    this.wake();
    await this.consumer.disconnect();
  }
}
