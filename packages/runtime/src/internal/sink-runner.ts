import {
  ConnectorError,
  type Logger,
  loadConfig,
  type PulsarPosition,
  type RecordSchema,
  type SinkContext,
  type SinkDefinition,
  type SinkInstance,
  type SinkRecord,
  type StateStore,
  sinkSubscriptionType,
  toConnectorError,
  type WriteOutcome,
} from "@pulsar-connect/core";
import { type ConsumerOptions, MessageId } from "@pulsar-connect/pulsar-client";
import { qualifyTopic, type ResolvedSinkConfig } from "../config.ts";
import type { DeclarableSchemaType } from "../config-fields.ts";
import type { SinkInstanceStatusData } from "../stats.ts";
import { Backoff, sleep } from "./backoff.ts";
import { inputSchema, sinkConsumerSettings } from "./client-options.ts";
import { decodeValue } from "./codec.ts";
import { secretResolver } from "./context.ts";
import { PositionIndex } from "./positions.ts";
import {
  adminRequest,
  type ConsumerLike,
  type MessageLike,
  type ProducerLike,
  type PulsarConnections,
  topicPath,
} from "./pulsar.ts";
import { RunnerBase } from "./runner-base.ts";

export interface SinkRunnerOptions {
  config: ResolvedSinkConfig;
  definition: SinkDefinition;
  instanceId: number;
  pulsar: PulsarConnections;
  logger: Logger;
  state: StateStore;
  workerId: string;
  /** Records per write; defaults to the definition's batchSize, else 500. */
  batchSize?: number;
  /** How long to wait for more messages once one arrived. */
  lingerMs?: number;
}

const STALL_CHECK_MS = 10_000;

function isInsideEntry(message: MessageLike): boolean {
  const { batchIndex, batchSize } = message.messageId;
  return batchIndex >= 0 && batchSize !== undefined && batchIndex < batchSize - 1;
}
const STALL_AFTER_MS = 30_000;

/** Runs one sink instance: Pulsar consumer -> batches -> sink.write, acking per the processing guarantee. */
export class SinkRunner extends RunnerBase {
  readonly kind = "sink" as const;

  private readonly options: SinkRunnerOptions;
  private consumer: ConsumerLike | undefined;
  private sink: SinkInstance | undefined;
  private positions: PositionIndex | undefined;
  private readonly buffer: MessageLike[] = [];
  private wakeReader: (() => void) | undefined;
  private wakePump: (() => void) | undefined;
  private paused = false;
  private stalled = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private dlqProducers = new Map<string, ProducerLike>();
  private schemas = new Map<string, RecordSchema | undefined>();
  private declaredSchemas = new Map<string, DeclarableSchemaType>();

  constructor(options: SinkRunnerOptions) {
    super(options.instanceId, options.logger);
    this.options = options;
  }

  protected wake(): void {
    this.wakeReader?.();
    this.wakePump?.();
  }

  private get guarantee() {
    return this.options.config.processingGuarantees;
  }

  async start(): Promise<void> {
    const { config, definition } = this.options;
    await this.opening(async () => {
      const connectorConfig = loadConfig(definition.config, config.configs, secretResolver(config.secrets));
      const subscriptionType = sinkSubscriptionType(config);
      const inputSettings = sinkConsumerSettings(config, (topic) =>
        qualifyTopic(topic, config.tenant, config.namespace),
      );
      this.declaredSchemas = inputSettings.schemaTypes;
      const subscribeOptions: ConsumerOptions = {
        subscription: config.sourceSubscriptionName,
        subscriptionType,
        subscriptionInitialPosition: config.sourceSubscriptionPosition,
        consumerName: `${config.tenant}/${config.namespace}/${config.name}:${this.instanceId}`,
        receiverQueueSize: inputSettings.receiverQueueSize ?? Math.max(1000, this.batchSize * 2),
      };
      if (inputSettings.properties) subscribeOptions.properties = inputSettings.properties;
      // As upstream, a sink consumes its named inputs and every topic its pattern matches.
      if (config.inputs.length > 0 || !config.topicsPattern) subscribeOptions.topics = config.inputs;
      if (config.topicsPattern) subscribeOptions.topicsPattern = config.topicsPattern;
      if (config.timeoutMs !== undefined && config.timeoutMs > 0) subscribeOptions.ackTimeoutMs = config.timeoutMs;
      if (config.negativeAckRedeliveryDelayMs !== undefined && config.negativeAckRedeliveryDelayMs > 0) {
        subscribeOptions.negativeAckRedeliveryDelayMs = config.negativeAckRedeliveryDelayMs;
      } else {
        subscribeOptions.negativeAckRedeliveryDelayMs = 1000;
      }
      this.state = "subscribing";
      this.consumer = await this.options.pulsar.client.subscribe(subscribeOptions);
      for (const topic of this.declaredSchemas.keys()) {
        try {
          await this.schemaOf(topic);
        } catch (error) {
          throw new ConnectorError("INVALID_CONFIG", (error as Error).message, { retryable: false });
        }
      }
      const context: SinkContext = {
        ...this.connectorContext(config, this.options.state),
        inputTopics: config.inputs,
        subscriptionType,
        seek: async (topic, position) => {
          const consumer = this.consumer;
          if (!consumer) throw new ConnectorError("CLOSED", "the sink instance is not running");
          if (config.inputs.length !== 1 || (topic !== config.inputs[0] && topic !== position.topic)) {
            throw new ConnectorError("UNSUPPORTED", "seek needs a sink with exactly one (non-partitioned) input topic");
          }
          await consumer.seek(new MessageId(position.ledgerId, position.entryId, -1, position.batchIndex));
          this.buffer.length = 0;
        },
        pause: () => {
          this.paused = true;
        },
        resume: () => {
          this.paused = false;
          this.wakePump?.();
        },
      };
      this.state = "opening connector";
      this.sink = await definition.open(connectorConfig, context);
      if (definition.storesPositions && this.sink.storedPositions && this.guarantee === "EFFECTIVELY_ONCE") {
        this.positions = new PositionIndex(await this.sink.storedPositions());
        this.logger.info({ topics: this.positions.size }, "resuming after the positions stored by the sink");
      }
    });
    this.stallTimer = setInterval(() => void this.checkStalled(), STALL_CHECK_MS);
    this.stallTimer.unref();
    void this.pump();
    void this.loop();
  }

  status(): SinkInstanceStatusData {
    return {
      running: this.running,
      error: this.error,
      numRestarts: 0,
      numReadFromPulsar: this.stats.received,
      numSystemExceptions: this.stats.systemExceptions,
      latestSystemExceptions: [...this.stats.latestSystemExceptions],
      numSinkExceptions: this.stats.connectorExceptions,
      latestSinkExceptions: [...this.stats.latestConnectorExceptions],
      numWrittenToSink: this.stats.written,
      lastReceivedTime: this.stats.lastReceivedTime,
      workerId: this.options.workerId,
      stalled: this.stalled,
      state: this.state,
    };
  }

  private get batchSize(): number {
    return this.options.batchSize ?? this.options.definition.batchSize ?? 500;
  }

  /** Moves messages from the consumer into the local buffer, holding back while it is full or paused. */
  private async pump(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    const limit = this.batchSize * 4;
    while (!this.stopping) {
      if (this.buffer.length >= limit || this.paused) {
        await new Promise<void>((resolve) => {
          this.wakePump = resolve;
        });
        this.wakePump = undefined;
        continue;
      }
      try {
        const message = await consumer.receive();
        this.buffer.push(message);
        this.stats.received += 1;
        this.stats.lastReceivedTime = Date.now();
        this.wakeReader?.();
      } catch (error) {
        if (this.stopping) return;
        this.stats.recordSystemException(error);
        this.fail(error);
        return;
      }
    }
  }

  private async nextBatch(): Promise<MessageLike[]> {
    while (this.buffer.length === 0 && !this.stopping) {
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
      this.wakeReader = undefined;
    }
    if (this.buffer.length > 0 && this.buffer.length < this.batchSize && !this.stopping) {
      await sleep(this.options.lingerMs ?? 2, this.abort.signal);
    }
    const batch = this.buffer.splice(0, this.batchSize);
    await this.completeEntry(batch);
    this.wakePump?.();
    return batch;
  }

  /**
   * Extends a batch to the end of the Pulsar entry its last message belongs to. The broker acknowledges whole
   * entries, so a sink batch that ends inside a producer batch would leave that entry unacknowledged, and a crash
   * would then bring back messages that were already written (a duplicate even under ATMOST_ONCE).
   */
  private async completeEntry(batch: MessageLike[]): Promise<void> {
    let last = batch.at(-1);
    const deadline = Date.now() + 1000;
    while (last && isInsideEntry(last) && !this.stopping && Date.now() < deadline) {
      const next = this.buffer[0];
      if (!next) {
        this.wakePump?.();
        await sleep(1, this.abort.signal);
        continue;
      }
      if (next.messageId.ledgerId !== last.messageId.ledgerId || next.messageId.entryId !== last.messageId.entryId)
        return;
      batch.push(this.buffer.shift() as MessageLike);
      last = next;
    }
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopping) {
        const batch = await this.nextBatch();
        if (batch.length === 0) continue;
        await this.process(batch);
      }
    } catch (error) {
      this.stats.recordSystemException(error);
      this.fatalError ??= error;
    }
    await this.finish();
  }

  protected async cleanup(): Promise<void> {
    if (this.stallTimer) clearInterval(this.stallTimer);
    const sink = this.sink;
    this.sink = undefined;
    if (sink) await sink.close().catch((error: unknown) => this.stats.recordConnectorException(error));
    for (const producer of this.dlqProducers.values()) await producer.close().catch(() => {});
    this.dlqProducers.clear();
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer) await consumer.close().catch(() => {});
  }

  private async schemaOf(topic: string): Promise<RecordSchema | undefined> {
    if (this.schemas.has(topic)) return this.schemas.get(topic);
    let schema: RecordSchema | undefined;
    try {
      const base = topic.replace(/-partition-\d+$/, "");
      const info = (await adminRequest(
        this.options.pulsar,
        "GET",
        `/admin/v2/schemas/${topicPath(base).replace(/^(non-)?persistent\//, "")}/schema`,
      )) as { type?: string; data?: string } | undefined;
      if (info?.type === "STRING" || info?.type === "JSON" || info?.type === "AVRO" || info?.type === "BYTES") {
        schema = { type: info.type };
        if (info.data) schema.definition = info.data;
      }
    } catch {
      schema = undefined;
    }
    schema = inputSchema(topic, schema, this.declaredSchemas.get(topic.replace(/-partition-\d+$/, "")));
    this.schemas.set(topic, schema);
    return schema;
  }

  private async toRecord(message: MessageLike): Promise<SinkRecord> {
    const id = message.messageId;
    const position: PulsarPosition = {
      topic: message.topic,
      ledgerId: id.ledgerId,
      entryId: id.entryId,
      batchIndex: id.batchIndex,
    };
    const schema = await this.schemaOf(message.topic);
    const record: SinkRecord = {
      value: decodeValue(message.data, schema),
      data: message.data,
      properties: message.properties,
      publishTime: message.publishTime,
      topicName: message.topic,
      position,
      messageId: Buffer.from(id.serialize()).toString("base64"),
      redeliveryCount: message.redeliveryCount,
    };
    if (schema) record.schema = schema;
    if (message.key !== undefined) record.key = message.key;
    if (message.eventTime !== undefined && message.eventTime > 0) record.eventTime = message.eventTime;
    return record;
  }

  private async process(messages: MessageLike[]): Promise<void> {
    const consumer = this.consumer;
    const sink = this.sink;
    if (!consumer || !sink) return;
    const records: SinkRecord[] = [];
    const accepted: MessageLike[] = [];
    for (const message of messages) {
      let record: SinkRecord;
      try {
        record = await this.toRecord(message);
      } catch (error) {
        await this.deadLetter(
          message,
          new ConnectorError("INVALID_RECORD", `cannot decode message: ${(error as Error).message}`),
        );
        continue;
      }
      if (this.positions?.covers(record.position)) {
        // Written before a restart, in the same transaction as its position: acknowledge, do not write again.
        await this.ack(message);
        continue;
      }
      if (this.guarantee === "MANUAL") {
        record.ack = () => void consumer.acknowledge(message).catch(() => {});
        record.fail = () => consumer.negativeAcknowledge(message);
      }
      records.push(record);
      accepted.push(message);
    }
    if (records.length === 0) return;

    if (this.guarantee === "ATMOST_ONCE") {
      await Promise.all(accepted.map((message) => consumer.acknowledge(message).catch(() => {})));
      try {
        const outcome = await sink.write(records);
        this.stats.written += records.length - (outcome ? outcome.failed.length : 0);
        for (const failure of outcome?.failed ?? []) this.stats.recordConnectorException(failure.error);
        this.stats.lastWrittenTime = Date.now();
      } catch (error) {
        this.stats.recordConnectorException(error);
      }
      return;
    }

    const outcome = await this.writeWithRetry(sink, records);
    if (outcome === undefined) return; // stopping: nothing acked, everything is redelivered
    const failed = new Map(outcome.failed.map((failure) => [failure.index, failure.error]));
    this.stats.written += records.length - failed.size;
    this.stats.lastWrittenTime = Date.now();
    if (this.guarantee === "MANUAL") return;
    const acks: Array<Promise<void>> = [];
    for (let index = 0; index < accepted.length; index += 1) {
      const message = accepted[index] as MessageLike;
      const error = failed.get(index);
      if (error === undefined) {
        if (this.guarantee !== "EFFECTIVELY_ONCE") acks.push(this.ack(message));
        continue;
      }
      this.stats.recordConnectorException(error);
      const maxRetries = this.options.config.maxMessageRetries ?? 0;
      if (this.guarantee !== "EFFECTIVELY_ONCE" && message.redeliveryCount < maxRetries) {
        consumer.negativeAcknowledge(message);
      } else {
        await this.deadLetter(message, error);
      }
    }
    if (this.guarantee === "EFFECTIVELY_ONCE") {
      const lastPerTopic = new Map<string, MessageLike>();
      for (const message of accepted) lastPerTopic.set(message.topic, message);
      for (const [index, record] of records.entries()) {
        if (!failed.has(index)) this.positions?.advance(record.position);
      }
      for (const message of lastPerTopic.values()) acks.push(consumer.acknowledgeCumulative(message).catch(() => {}));
    }
    await Promise.all(acks);
  }

  private async ack(message: MessageLike): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    if (this.guarantee === "EFFECTIVELY_ONCE") await consumer.acknowledgeCumulative(message).catch(() => {});
    else await consumer.acknowledge(message).catch(() => {});
    this.stats.acked += 1;
  }

  /**
   * Writes a batch until it is durable. Retryable failures are retried with capped backoff for as long as the
   * instance runs (status says why); a non-retryable failure of the whole batch is narrowed down record by record
   * so one poison record does not hold back the others. Resolves undefined when stopped before success.
   */
  private async writeWithRetry(sink: SinkInstance, records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    const backoff = new Backoff(200, 30_000);
    for (;;) {
      try {
        const outcome = await sink.write(records);
        if (backoff.attempts > 0) this.state = "running";
        return outcome ?? { failed: [] };
      } catch (error) {
        const wrapped = toConnectorError(error, "WRITE_FAILED");
        this.stats.recordConnectorException(wrapped);
        if (!wrapped.retryable) {
          if (records.length === 1) return { failed: [{ index: 0, error: wrapped }] };
          return this.writeOneByOne(sink, records);
        }
        if (this.stopping) return undefined;
        const delay = backoff.next();
        this.state = `retrying write in ${delay} ms (attempt ${backoff.attempts}): ${wrapped.message}`;
        this.logger.warn(
          { err: wrapped.message, delayMs: delay, attempt: backoff.attempts },
          "sink write failed; retrying",
        );
        await sleep(delay, this.abort.signal);
        if (this.stopping) return undefined;
      }
    }
  }

  private async writeOneByOne(sink: SinkInstance, records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    const failed: WriteOutcome["failed"] = [];
    for (const [index, record] of records.entries()) {
      const outcome = await this.writeWithRetry(sink, [record]);
      if (outcome === undefined) return undefined;
      const failure = outcome.failed[0];
      if (failure) failed.push({ index, error: failure.error });
    }
    return { failed };
  }

  private deadLetterTopic(topic: string): string {
    if (this.options.config.deadLetterTopic) return this.options.config.deadLetterTopic;
    const subscription = this.options.config.sourceSubscriptionName.replaceAll("/", "-");
    return `${topic.replace(/-partition-\d+$/, "")}-${subscription}-DLQ`;
  }

  /** Publishes a message that cannot be written to the dead-letter topic, then acknowledges it. */
  private async deadLetter(message: MessageLike, error: Error): Promise<void> {
    const topic = this.deadLetterTopic(message.topic);
    const backoff = new Backoff(200, 10_000);
    for (;;) {
      try {
        let producer = this.dlqProducers.get(topic);
        if (!producer) {
          producer = await this.options.pulsar.client.createProducer({ topic, batchingEnabled: false });
          this.dlqProducers.set(topic, producer);
        }
        const properties: Record<string, string> = {
          ...message.properties,
          __pulsar_connect_error: error.message.slice(0, 1000),
          __pulsar_connect_origin_topic: message.topic,
          __pulsar_connect_origin_message_id: Buffer.from(message.messageId.serialize()).toString("base64"),
        };
        const out: { value: Uint8Array; key?: string; properties: Record<string, string> } = {
          value: message.data,
          properties,
        };
        if (message.key !== undefined) out.key = message.key;
        await producer.send(out);
        this.stats.deadLettered += 1;
        await this.ack(message);
        this.logger.warn(
          { topic: message.topic, deadLetterTopic: topic, err: error.message },
          "record sent to the dead-letter topic",
        );
        return;
      } catch (sendError) {
        this.stats.recordSystemException(sendError);
        if (this.stopping) return;
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  private async checkStalled(): Promise<void> {
    if (!this.running) return;
    const idle = Date.now() - Math.max(this.stats.lastWrittenTime, this.stats.lastReceivedTime);
    if (idle < STALL_AFTER_MS) {
      this.stalled = false;
      return;
    }
    try {
      let backlog = 0;
      for (const topic of this.options.config.inputs) {
        const stats = (await adminRequest(this.options.pulsar, "GET", `/admin/v2/${topicPath(topic)}/stats`)) as
          | { subscriptions?: Record<string, { msgBacklog?: number }> }
          | undefined;
        backlog += stats?.subscriptions?.[this.options.config.sourceSubscriptionName]?.msgBacklog ?? 0;
      }
      this.stalled = backlog > 0;
    } catch {
      // Status only; an unreachable admin API is reported elsewhere.
    }
  }
}
