import {
  ConnectorError,
  type FunctionDefinition,
  formatIssues,
  type Logger,
  loadConfig,
  type PulsarPosition,
  parseConfig,
  type RecordSchema,
  type SinkContext,
  type SinkDefinition,
  type SinkInstance,
  type SinkRecord,
  type StateStore,
  sinkSubscriptionType,
  toConnectorError,
  type WriteOutcome,
  type WriteRetries,
} from "@pulsar-connect/core/host";
import { type ConsumerOptions, MessageId } from "@pulsar-connect/pulsar-client";
import { qualifyTopic, type ResolvedSinkConfig } from "../config.ts";
import type { DeclarableSchemaType } from "../config-fields.ts";
import type { SinkInstanceStatusData } from "../stats.ts";
import { hasTransformFunction, transformFunctionConfigOf } from "../transform-function.ts";
import { Backoff, sleep } from "./backoff.ts";
import { inputSchema, sinkConsumerSettings } from "./client-options.ts";
import { decodeKeyValue, decodeValue } from "./codec.ts";
import { secretResolver } from "./context.ts";
import { DeadLetterPublisher } from "./dead-letter.ts";
import { EventLoopTurns } from "./event-loop-turn.ts";
import { type GuaranteePolicy, guaranteePolicy, refusalAction } from "./guarantee-policy.ts";
import { PositionIndex } from "./positions.ts";
import { adminOf, type ConsumerLike, type MessageLike, type PulsarConnections } from "./pulsar.ts";
import { RecordTransform } from "./record-transform.ts";
import { RunnerBase } from "./runner-base.ts";
import { UNKNOWN_SCHEMA, VersionSchemas } from "./version-schemas.ts";

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
  /** The transform function (`transformFunction`), applied to each record before the sink. */
  transformFunction?: FunctionDefinition;
  /** The host's retries of retryable write failures; what the sink derives from its config takes precedence. */
  writeRetries?: WriteRetries;
}

/** Retries when neither the sink nor the host says otherwise: until the instance stops, as before the setting. */
const DEFAULT_WRITE_RETRIES: Readonly<Required<WriteRetries>> = {
  maxRetries: Number.POSITIVE_INFINITY,
  initialBackoffMs: 200,
  maxBackoffMs: 30_000,
};

/** A sink's setting for one instance: fixed, or derived from the instance's parsed config. */
function settingOf<T>(setting: T | ((config: never) => T) | undefined, config: unknown): T | undefined {
  return typeof setting === "function" ? (setting as (config: unknown) => T)(config) : setting;
}

function invalidSetting(sink: string, field: string, value: unknown, rule: string): ConnectorError {
  return new ConnectorError("INVALID_CONFIG", `sink ${sink} declares ${field} ${String(value)}: ${rule}`, {
    retryable: false,
  });
}

/** The retries of one batch: consecutive retries with the runtime's backoff, up to the instance's limit. */
class BatchRetries {
  readonly backoff: Backoff;
  readonly limit: number;

  constructor(settings: Required<WriteRetries>) {
    this.backoff = new Backoff(settings.initialBackoffMs, settings.maxBackoffMs);
    this.limit = settings.maxRetries;
  }

  get exhausted(): boolean {
    return this.backoff.attempts >= this.limit;
  }

  /**
   * The failure that ends the instance once the retries are used up. A passing failure says nothing against the
   * records: they are never refused (redelivered past, dead-lettered, dropped), the instance fails instead and its
   * restart, with the supervisor's backoff, brings them again in order.
   */
  givenUp(error: ConnectorError): ConnectorError {
    const retries = this.backoff.attempts;
    return new ConnectorError(
      error.code,
      `gave up after ${retries} ${retries === 1 ? "retry" : "retries"}: ${error.message}`,
      { cause: error, retryable: true },
    );
  }
}

const STALL_CHECK_MS = 10_000;
/** Confirmed entries an ATMOST_ONCE runner remembers: far more than it and its consumer's queue can hold at once. */
const CONFIRMED_ENTRIES_KEPT = 100_000;
const STALL_AFTER_MS = 30_000;

function isInsideEntry(message: MessageLike): boolean {
  const { batchIndex, batchSize } = message.messageId;
  return batchIndex >= 0 && batchSize !== undefined && batchIndex < batchSize - 1;
}

/** The broker entry a message belongs to (all messages of a producer batch share it). */
function entryOf(message: MessageLike): string {
  return `${message.topic}:${message.messageId.ledgerId}:${message.messageId.entryId}`;
}

/**
 * The batch without later copies of a message it already holds. After a reconnect (a topic unload, a broker
 * restart) the broker delivers every unacknowledged message again, behind the copies the runner still buffers, so
 * one batch can hold a message twice. A copy in the same batch shares its original's fate (written, retried or
 * refused together) and its acknowledgement (same message id), so it is dropped; a copy in a later batch is covered
 * by the positions stored with the earlier one, where the sink stores them.
 */
function withoutRedeliveredCopies(messages: MessageLike[]): MessageLike[] {
  const seen = new Set<string>();
  return messages.filter((message) => {
    const key = `${entryOf(message)}:${message.messageId.batchIndex}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Authentication and authorization failures concern the connector's credentials, never one record. */
function isAuthFailure(error: ConnectorError): boolean {
  return error.code === "AUTH_FAILED";
}

/** One message of a batch and how far it got. */
interface Entry {
  message: MessageLike;
  /** Undefined when the message could not be decoded. */
  record?: SinkRecord;
  /** Why the record cannot be written (decode failure, transform failure, or refused by the sink). */
  refusal?: ConnectorError;
  /** Written, dead-lettered, dropped (per the guarantee or by the transform), or written before (stored position). */
  done: boolean;
  written: boolean;
}

/** A batch ready to be written: decoded and transformed (under ATMOST_ONCE, acknowledged already). */
interface PreparedBatch {
  sink: SinkInstance;
  entries: Entry[];
}

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
  private schemas = new Map<string, RecordSchema | undefined>();
  /** The schema of the last schema version seen on each topic (a version's schema never changes). */
  private readonly versionSchemas: VersionSchemas | undefined;
  private readonly policy: GuaranteePolicy;
  private readonly deadLetters: DeadLetterPublisher;
  /** Set when this instance (re)became the active consumer: another instance may have written since. */
  private positionsStale = false;
  /** Topics (partitions) another consumer of the subscription is the active one of. */
  private readonly inactiveTopics = new Set<string>();
  /**
   * ATMOST_ONCE: broker entries whose acknowledgement the broker confirmed and that went to the sink. A reconnect or
   * unload makes the broker deliver again what this runner still buffers unacknowledged, behind the copies it holds;
   * a copy of an entry listed here was written already (the broker confirms an ack of a deleted position too).
   */
  private readonly confirmedEntries = new Map<string, true>();
  private declaredSchemas = new Map<string, DeclarableSchemaType>();
  private transform: RecordTransform | undefined;
  /** Writes that may run at once: the sink's maxInFlight, unless the guarantee or ordering needs one at a time. */
  private maxInFlight = 1;
  private writeRetries: Required<WriteRetries> = DEFAULT_WRITE_RETRIES;

  constructor(options: SinkRunnerOptions) {
    super(options.instanceId, options.logger);
    this.options = options;
    this.policy = guaranteePolicy(options.config.processingGuarantees);
    const client = options.pulsar.client;
    if (client.getSchema) this.versionSchemas = new VersionSchemas(client.getSchema.bind(client));
    this.deadLetters = new DeadLetterPublisher({
      pulsar: options.pulsar,
      logger: options.logger,
      stats: this.stats,
      deadLetterTopic: options.config.deadLetterTopic,
      subscription: options.config.sourceSubscriptionName,
      signal: this.abort.signal,
      stopping: () => this.stopping,
    });
  }

  protected wake(): void {
    this.wakeReader?.();
    this.wakePump?.();
  }

  async start(): Promise<void> {
    const { config, definition } = this.options;
    await this.opening(async () => {
      const connectorConfig = loadConfig(definition.config, config.configs, secretResolver(config.secrets));
      this.maxInFlight = this.inFlightLimit(definition, connectorConfig);
      this.writeRetries = this.retriesOf(definition, connectorConfig);
      this.transform = this.transformOf(config, definition);
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
        ackReceiptEnabled: this.policy.sink.awaitsAckReceipt,
        onActiveConsumerChange: ({ topic, active }) => {
          if (!active) {
            // The new active consumer of this topic (partition) receives these messages again, from the first one
            // not acknowledged. Writing any of them here would duplicate it, or, past a message dropped here, store
            // a position beyond records nobody wrote yet (the other instance then skips them).
            this.inactiveTopics.add(topic);
            const kept = this.buffer.filter((message) => message.topic !== topic);
            this.buffer.splice(0, this.buffer.length, ...kept);
            this.wakePump?.();
            return;
          }
          this.inactiveTopics.delete(topic);
          if (this.positions) this.positionsStale = true;
        },
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
          await this.latestSchemaOf(topic);
        } catch (error) {
          throw new ConnectorError("INVALID_CONFIG", (error as Error).message, { retryable: false });
        }
      }
      const context: SinkContext = {
        ...this.connectorContext(config, this.options.state),
        inputTopics: config.inputs,
        subscriptionType,
        processingGuarantee: config.processingGuarantees,
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
      if (definition.storesPositions && this.policy.sink.resumesFromStoredPositions)
        await this.loadPositions(this.sink);
    });
    this.stallTimer = setInterval(() => void this.checkStalled(), STALL_CHECK_MS);
    this.stallTimer.unref();
    void this.pump();
    void this.loop();
  }

  /**
   * How many writes may run at once; a sink that stores positions, a guarantee or an ordering setting that needs
   * order gets one, with a warning.
   */
  private inFlightLimit(definition: SinkDefinition, connectorConfig: unknown): number {
    const declared = settingOf(definition.maxInFlight, connectorConfig) ?? 1;
    if (!Number.isInteger(declared) || declared < 1) {
      throw invalidSetting(definition.name, "maxInFlight", declared, "it must be a positive whole number");
    }
    if (declared === 1) return 1;
    const { config } = this.options;
    const reason =
      (definition.storesPositions
        ? "the sink stores its position with each write: a later batch stored first would mark an earlier one not yet written as done (EFFECTIVELY_ONCE, now or after a change of guarantee, would skip it)"
        : undefined) ??
      this.policy.sink.serialWritesReason ??
      (config.retainOrdering || config.retainKeyOrdering
        ? `${config.retainOrdering ? "retainOrdering" : "retainKeyOrdering"} asks for records to reach the sink in order`
        : undefined);
    if (reason === undefined) return declared;
    this.logger.warn(
      { maxInFlight: declared },
      `writing one batch at a time instead of the sink's ${declared}: ${reason}`,
    );
    return 1;
  }

  /** The instance's write retries: the sink's (from its config) over the host's over the defaults. */
  private retriesOf(definition: SinkDefinition, connectorConfig: unknown): Required<WriteRetries> {
    const declared = settingOf(definition.writeRetries, connectorConfig) ?? {};
    const settings = { ...DEFAULT_WRITE_RETRIES };
    for (const source of [this.options.writeRetries ?? {}, declared]) {
      for (const key of ["maxRetries", "initialBackoffMs", "maxBackoffMs"] as const) {
        if (source[key] !== undefined) settings[key] = source[key];
      }
    }
    const { maxRetries, initialBackoffMs, maxBackoffMs } = settings;
    if (!(Number.isInteger(maxRetries) || maxRetries === Number.POSITIVE_INFINITY) || maxRetries < 0) {
      throw invalidSetting(definition.name, "writeRetries.maxRetries", maxRetries, "it must be a whole number >= 0");
    }
    for (const [field, value] of [
      ["initialBackoffMs", initialBackoffMs],
      ["maxBackoffMs", maxBackoffMs],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw invalidSetting(definition.name, `writeRetries.${field}`, value, "it must be a positive number of ms");
      }
    }
    if (!this.policy.sink.retriesWrites && definition.writeRetries !== undefined && maxRetries > 0) {
      this.logger.warn(
        { maxRetries },
        `${this.policy.guarantee} never retries a write (its messages were acknowledged before it): the sink's retry settings do not apply`,
      );
    }
    return settings;
  }

  /** The configured transform function with its config validated, before anything connects. */
  private transformOf(config: ResolvedSinkConfig, sink: SinkDefinition): RecordTransform | undefined {
    if (!hasTransformFunction(config)) return undefined;
    const definition = this.options.transformFunction;
    if (!definition) {
      throw new ConnectorError(
        "NOT_FOUND",
        `transform function ${String(config.transformFunction)} is not installed on this worker; install its package and reload`,
        { retryable: false },
      );
    }
    const result = parseConfig(
      definition.config,
      transformFunctionConfigOf(config),
      undefined,
      "transformFunctionConfig",
    );
    if (!result.ok) {
      throw new ConnectorError("INVALID_CONFIG", formatIssues("Invalid transform function config", result.issues), {
        issues: result.issues,
        retryable: false,
      });
    }
    return new RecordTransform({
      definition,
      config: result.value,
      context: {
        tenant: config.tenant,
        namespace: config.namespace,
        name: config.name,
        instanceId: this.instanceId,
        logger: this.logger.child({ transformFunction: definition.name }),
      },
      sinkName: sink.name,
      routesByDestination: sink.routesByDestination === true,
    });
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
    return this.options.batchSize ?? this.sink?.batching?.maxRecords ?? this.options.definition.batchSize ?? 500;
  }

  /**
   * Waits, after a first message arrived, until the buffer holds a full batch (by count, or by the sink's byte
   * limit) or the linger time is over. Woken by every received message, so a batch that fills up early goes at once.
   * Unless the sink asks for a wait of its own (`batching.maxWaitMs`), the batch also goes as soon as a turn of the
   * event loop brings no new message: under light load a record is not held for the linger time, and while messages
   * keep coming the batch grows until it is full or the linger time is over.
   */
  private async lingerForFullBatch(): Promise<void> {
    const sinkWaitMs = this.sink?.batching?.maxWaitMs;
    const lingerMs = sinkWaitMs ?? this.options.lingerMs ?? 2;
    const maxBytes = this.sink?.batching?.maxBytes ?? Number.POSITIVE_INFINITY;
    let scanned = 0;
    let bytes = 0;
    const full = () => {
      // Messages are only appended while waiting; start over if the buffer was cut (seek, lost partition).
      if (scanned > this.buffer.length) {
        scanned = 0;
        bytes = 0;
      }
      for (; scanned < this.buffer.length && scanned < this.batchSize; scanned++) {
        bytes += (this.buffer[scanned] as MessageLike).data.length;
      }
      return this.buffer.length >= this.batchSize || bytes >= maxBytes;
    };
    if (this.buffer.length === 0 || this.stopping || full()) return;
    if (sinkWaitMs === undefined) {
      const until = performance.now() + lingerMs;
      for (let seen = this.buffer.length; ; seen = this.buffer.length) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.buffer.length <= seen || this.stopping || full() || performance.now() >= until) return;
      }
    }
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        expired = true;
        resolve();
      }, lingerMs);
    });
    try {
      // stop() wakes the reader too.
      while (!expired && !this.stopping && !full()) {
        await Promise.race([
          expiry,
          new Promise<void>((resolve) => {
            this.wakeReader = resolve;
          }),
        ]);
        this.wakeReader = undefined;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** How many buffered messages the next batch takes: up to the record limit and the sink's byte limit. */
  private batchLength(): number {
    const maxBytes = this.sink?.batching?.maxBytes;
    const limit = Math.min(this.buffer.length, this.batchSize);
    if (maxBytes === undefined) return limit;
    let bytes = 0;
    for (let i = 0; i < limit; i++) {
      bytes += (this.buffer[i] as MessageLike).data.length;
      if (bytes >= maxBytes) return i + 1;
    }
    return limit;
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
        // Received just before this instance stopped being the active consumer of its topic (see above).
        if (this.inactiveTopics.has(message.topic)) continue;
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
    await this.lingerForFullBatch();
    const batch = this.buffer.splice(0, this.batchLength());
    await this.completeEntry(batch);
    this.wakePump?.();
    return withoutRedeliveredCopies(batch);
  }

  /**
   * Extends a batch to the end of the Pulsar entry its last message belongs to. The broker acknowledges whole
   * entries, so a sink batch that ends inside a producer batch would leave that entry unacknowledged, and a crash
   * would then bring back messages that were already written (a duplicate even under ATMOST_ONCE).
   */
  private async completeEntry(batch: MessageLike[]): Promise<void> {
    let last = batch.at(-1);
    const deadline = Date.now() + 1000;
    // The entry's buffered messages leave the buffer in one splice, taken before any wait (the buffer may be cut
    // meanwhile): a shift per message would move the whole buffer, up to four batches, for each of them.
    let taken = 0;
    const take = () => {
      for (const message of this.buffer.splice(0, taken)) batch.push(message);
      taken = 0;
    };
    while (
      last &&
      isInsideEntry(last) &&
      !this.stopping &&
      !this.inactiveTopics.has(last.topic) &&
      Date.now() < deadline
    ) {
      const next = this.buffer[taken];
      if (!next) {
        take();
        this.wakePump?.();
        await sleep(1, this.abort.signal);
        continue;
      }
      if (next.messageId.ledgerId !== last.messageId.ledgerId || next.messageId.entryId !== last.messageId.entryId)
        break;
      taken += 1;
      last = next;
    }
    take();
  }

  /**
   * Takes batches in order and writes up to `maxInFlight` of them at once. Each batch is prepared (decoded,
   * transformed, and under ATMOST_ONCE acknowledged) in order before its write starts; each is acknowledged after its
   * own write, whichever finishes first. The instance ends once every write in flight settled.
   */
  private async loop(): Promise<void> {
    const writing = new Set<Promise<void>>();
    // With a backlog every await below settles at once; without a turn now and then, batch after batch would run
    // as one chain of microtasks and hold the thread (timers, I/O, the other instances) until the buffer ran dry.
    const turns = new EventLoopTurns();
    try {
      while (!this.stopping) {
        if (writing.size >= this.maxInFlight) {
          await Promise.race(writing);
          continue;
        }
        await turns.take();
        if (this.stopping) break;
        const batch = await this.nextBatch();
        if (batch.length === 0) continue;
        const prepared = await this.prepare(batch);
        if (prepared === undefined) continue;
        const write: Promise<void> = this.settle(prepared).then(
          () => {
            writing.delete(write);
          },
          (error: unknown) => {
            writing.delete(write);
            this.stats.recordSystemException(error);
            this.fail(error);
          },
        );
        writing.add(write);
      }
    } catch (error) {
      this.stats.recordSystemException(error);
      this.fail(error);
    }
    await Promise.all(writing);
    await this.finish();
  }

  protected async cleanup(): Promise<void> {
    if (this.stallTimer) clearInterval(this.stallTimer);
    const sink = this.sink;
    this.sink = undefined;
    if (sink) await sink.close().catch((error: unknown) => this.stats.recordConnectorException(error));
    await this.deadLetters.close();
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer) await consumer.close().catch(() => {});
  }

  /** The schema the message was written with (its schema version), else the topic's latest. */
  private async schemaOf(message: MessageLike): Promise<RecordSchema | undefined> {
    const version = message.schemaVersion;
    if (!version || version.length === 0 || !this.versionSchemas) return this.latestSchemaOf(message.topic);
    return this.versionSchemas.resolve(message.topic, version);
  }

  private async latestSchemaOf(topic: string): Promise<RecordSchema | undefined> {
    if (this.schemas.has(topic)) return this.schemas.get(topic);
    let schema: RecordSchema | undefined;
    try {
      const base = topic.replace(/-partition-\d+$/, "");
      const info = (await adminOf(this.options.pulsar).getSchema(base)) as { type?: string; data?: string } | undefined;
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

  /** The schema of a message when it is known without a lookup, else {@link UNKNOWN_SCHEMA}. */
  private knownSchemaOf(message: MessageLike): RecordSchema | undefined | typeof UNKNOWN_SCHEMA {
    const version = message.schemaVersion;
    if (!version || version.length === 0 || !this.versionSchemas) {
      return this.schemas.has(message.topic) ? this.schemas.get(message.topic) : UNKNOWN_SCHEMA;
    }
    return this.versionSchemas.known(message.topic, version);
  }

  /** The record of a message; synchronous once its schema is known, so a batch is decoded without a turn per message. */
  private toRecord(message: MessageLike): SinkRecord | Promise<SinkRecord> {
    const known = this.knownSchemaOf(message);
    if (known !== UNKNOWN_SCHEMA) return this.recordOf(message, known);
    return this.schemaOf(message).then((schema) => this.recordOf(message, schema));
  }

  private recordOf(message: MessageLike, schema: RecordSchema | undefined): SinkRecord {
    const id = message.messageId;
    const position: PulsarPosition = {
      topic: message.topic,
      ledgerId: id.ledgerId,
      entryId: id.entryId,
      batchIndex: id.batchIndex,
    };
    const record: SinkRecord = {
      value:
        schema?.type === "KEY_VALUE"
          ? decodeKeyValue(message.data, message.keyBytes, schema)
          : decodeValue(message.data, schema),
      data: message.data,
      properties: message.properties,
      publishTime: message.publishTime,
      topicName: message.topic,
      position,
      messageId: id.serialize().toString("base64"),
      redeliveryCount: message.redeliveryCount,
    };
    if (schema) record.schema = schema;
    if (message.key !== undefined) record.key = message.key;
    if (message.eventTime !== undefined && message.eventTime > 0) record.eventTime = message.eventTime;
    return record;
  }

  /**
   * Decodes and transforms a batch, in the order batches are taken; under ATMOST_ONCE also acknowledges it, so that
   * acknowledgements keep the order of the messages whatever the writes do. Undefined when the instance closed.
   */
  private async prepare(messages: MessageLike[]): Promise<PreparedBatch | undefined> {
    const consumer = this.consumer;
    const sink = this.sink;
    if (!consumer || !sink) return undefined;
    const policy = this.policy.sink;
    if (this.positionsStale) await this.loadPositions(sink);
    const entries: Entry[] = [];
    for (const message of messages) {
      const entry: Entry = { message, done: false, written: false };
      entries.push(entry);
      try {
        const record = this.toRecord(message);
        entry.record = record instanceof Promise ? await record : record;
      } catch (error) {
        entry.refusal = new ConnectorError("INVALID_RECORD", `cannot decode message: ${(error as Error).message}`, {
          retryable: false,
        });
        continue;
      }
      // Written before a restart or by the previous active consumer, in the same transaction as its position.
      if (this.positions?.covers(entry.record.position)) entry.done = true;
      else if (this.transform) {
        try {
          const transformed = await this.transform.apply(entry.record);
          if (transformed === undefined) {
            // Dropped by the function: processed, so acknowledged like a written record (never given to the sink).
            entry.done = true;
            if (policy.ackWhen === "connector") await this.ackOne(message);
            continue;
          }
          entry.record = transformed;
        } catch (error) {
          // Settled in order like an undecodable message: dead-lettered, redelivered or failing, per the guarantee.
          entry.refusal = toConnectorError(error, "INVALID_RECORD");
          delete entry.record;
          continue;
        }
      }
      if (policy.ackWhen === "connector") {
        entry.record.ack = () => void consumer.acknowledge(message).catch(() => {});
        entry.record.fail = () => consumer.negativeAcknowledge(message);
      }
    }

    if (policy.ackWhen === "received") return { sink, entries: await this.acknowledgeBeforeWrite(entries) };
    return { sink, entries };
  }

  /** Writes a prepared batch and settles it per the guarantee; several may run at once (see `loop`). */
  private async settle({ sink, entries }: PreparedBatch): Promise<void> {
    if (this.policy.sink.ackWhen === "received") {
      await this.writeOnce(sink, entries);
      return;
    }
    // Undecodable messages split the batch: what comes before one is written, then it is settled, then the rest.
    let from = 0;
    while (from < entries.length && !this.stopping) {
      const undecodable = entries.findIndex((entry, index) => index >= from && entry.record === undefined);
      const to = undecodable === -1 ? entries.length : undecodable;
      await this.writeSettled(
        sink,
        entries.slice(from, to).filter((entry) => !entry.done),
      );
      if (undecodable === -1 || this.stopping) break;
      await this.refuse([entries[undecodable] as Entry]);
      from = to + 1;
    }
    if (!this.stopping) this.state = "running";
    await this.acknowledge(entries);
  }

  /**
   * Writes decoded records until each is written or settled: retryable per-record failures are written again in
   * order (at once when others made progress, else after a capped backoff), refused ones are settled first.
   */
  private async writeSettled(sink: SinkInstance, entries: Entry[]): Promise<void> {
    const policy = this.policy.sink;
    let pending = entries;
    const retries = new BatchRetries(this.writeRetries);
    while (pending.length > 0 && !this.stopping) {
      const outcome = await this.writeWithRetry(
        sink,
        pending.map((entry) => entry.record as SinkRecord),
        retries,
      );
      if (outcome === undefined) break; // stopping: what is not written stays unacknowledged
      const failed = new Map(outcome.failed.map((failure) => [failure.index, toConnectorError(failure.error)]));
      const retry: Entry[] = [];
      const refused: Entry[] = [];
      let retryError: ConnectorError | undefined;
      for (const [index, entry] of pending.entries()) {
        const error = failed.get(index);
        if (error === undefined) {
          entry.done = true;
          entry.written = true;
          this.stats.written += 1;
        } else if (isAuthFailure(error)) {
          this.fail(error);
        } else if (error.retryable && policy.retriesWrites) {
          retry.push(entry);
          retryError ??= error;
        } else {
          entry.refusal = error;
          refused.push(entry);
        }
      }
      this.stats.lastWrittenTime = Date.now();
      // Refused records are settled before anything after them is written again, so a position or a cumulative
      // ack never covers a record that is neither written nor dead-lettered.
      await this.refuse(refused);
      if (retry.length === 0 || this.stopping) break;
      // Records a sink left unwritten after settling others (an earlier refused record) are written again at once.
      const progress = retry.length < pending.length;
      pending = retry;
      if (progress) continue;
      this.stats.recordConnectorException(retryError);
      if (retries.exhausted) {
        // Out of retries: the instance fails and the records stay unacknowledged (see BatchRetries.givenUp).
        this.fail(retries.givenUp(retryError as ConnectorError));
        break;
      }
      const delay = retries.backoff.next();
      this.state = `retrying ${retry.length} record(s) in ${delay} ms (attempt ${retries.backoff.attempts}): ${retryError?.message}`;
      await sleep(delay, this.abort.signal);
    }
  }

  /**
   * Acknowledges a batch before its write and returns what may be written: the messages of the entries whose
   * acknowledgement the broker confirmed (with `awaitsAckReceipt`). The broker forgets an entry only once all of it is
   * acknowledged, so a batch that ends inside an entry (its rest did not come in time) does not write that part: it
   * is acknowledged (the rest will complete the entry) unless the instance stops, when the whole entry comes again.
   */
  private async acknowledgeBeforeWrite(received: Entry[]): Promise<Entry[]> {
    const consumer = this.consumer;
    if (!consumer) return [];
    const entries: Entry[] = [];
    for (const entry of received) {
      if (!this.confirmedEntries.has(entryOf(entry.message))) entries.push(entry);
      // Delivered again after it was written: acknowledged once more so the client stops tracking it.
      else void consumer.acknowledge(entry.message).catch(() => {});
    }
    const last = entries.at(-1)?.message;
    const partial = last && isInsideEntry(last) ? entryOf(last) : undefined;
    const whole = entries.filter((entry) => entryOf(entry.message) !== partial);
    if (!this.stopping) {
      for (const entry of entries.slice(whole.length)) void consumer.acknowledge(entry.message).catch(() => {});
    }
    const results = await Promise.allSettled(whole.map((entry) => consumer.acknowledge(entry.message)));
    const refused = new Set<string>();
    for (const [index, result] of results.entries()) {
      if (result.status === "fulfilled") this.stats.acked += 1;
      else refused.add(entryOf((whole[index] as Entry).message));
    }
    // An entry is acknowledged only if the ack of every message of it went through (the last one is what is sent).
    // A topic handed to another consumer meanwhile is left out: the broker told this one before it answered an ack
    // made after its rewind, so the new active consumer may be delivered the same messages.
    const confirmed = whole.filter(
      (entry) => !refused.has(entryOf(entry.message)) && !this.inactiveTopics.has(entry.message.topic),
    );
    for (const entry of confirmed) this.confirmedEntries.set(entryOf(entry.message), true);
    for (const key of this.confirmedEntries.keys()) {
      if (this.confirmedEntries.size <= CONFIRMED_ENTRIES_KEPT) break;
      this.confirmedEntries.delete(key);
    }
    return confirmed;
  }

  /** ATMOST_ONCE: one write, failures counted; every message was acknowledged before. */
  private async writeOnce(sink: SinkInstance, entries: Entry[]): Promise<void> {
    const records = entries.flatMap((entry) => (entry.record && !entry.done ? [entry.record] : []));
    for (const entry of entries) if (entry.refusal) this.stats.recordConnectorException(entry.refusal);
    if (records.length === 0) return;
    try {
      const began = performance.now();
      const outcome = await sink.write(records);
      this.stats.writeLatency.record(performance.now() - began);
      this.stats.written += records.length - (outcome ? outcome.failed.length : 0);
      for (const failure of outcome?.failed ?? []) this.stats.recordConnectorException(failure.error);
      this.stats.lastWrittenTime = Date.now();
    } catch (error) {
      this.stats.recordConnectorException(error);
    }
  }

  /** Settles refused (or undecodable) records in order, per the guarantee and the dead-letter settings. */
  private async refuse(entries: Entry[]): Promise<void> {
    const consumer = this.consumer;
    for (const entry of entries) {
      const error = entry.refusal as ConnectorError;
      if (this.stopping || !consumer) return;
      this.stats.recordConnectorException(error);
      const action = refusalAction(this.policy.sink, {
        maxMessageRetries: this.options.config.maxMessageRetries ?? 0,
        redeliveryCount: entry.message.redeliveryCount,
      });
      switch (action) {
        case "dead-letter":
          entry.done = await this.deadLetters.send(entry.message, error);
          if (entry.done && this.policy.sink.ackMode === "individual") await this.ackOne(entry.message);
          break;
        case "redeliver":
          consumer.negativeAcknowledge(entry.message);
          break;
        case "fail-instance":
          this.fail(
            new ConnectorError(
              error.code,
              `${error.message} (no dead-letter topic: set maxMessageRetries to send such records to one)`,
              { cause: error, retryable: false },
            ),
          );
          return;
        case "drop":
          entry.done = true;
          break;
      }
    }
  }

  /** Acknowledges what the guarantee allows once a batch is settled. */
  private async acknowledge(entries: Entry[]): Promise<void> {
    const consumer = this.consumer;
    if (!consumer || this.policy.sink.ackWhen !== "written") return;
    if (this.policy.sink.ackMode === "individual") {
      // Dead-lettered messages were acknowledged right after their send.
      await Promise.all(entries.filter((entry) => entry.done && !entry.refusal).map((e) => this.ackOne(e.message)));
      return;
    }
    // Cumulative: per topic, up to the last message before the first one that is neither written nor dead-lettered.
    const lastDone = new Map<string, MessageLike>();
    const blocked = new Set<string>();
    for (const entry of entries) {
      const topic = entry.message.topic;
      if (blocked.has(topic)) continue;
      if (!entry.done) {
        blocked.add(topic);
        continue;
      }
      lastDone.set(topic, entry.message);
      if (entry.written && entry.record) this.positions?.advance(entry.record.position);
    }
    await Promise.all(
      [...lastDone.values()].map(async (message) => {
        await consumer.acknowledgeCumulative(message).catch(() => {});
        this.stats.acked += 1;
      }),
    );
  }

  private async ackOne(message: MessageLike): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    await consumer.acknowledge(message).catch(() => {});
    this.stats.acked += 1;
  }

  private async loadPositions(sink: SinkInstance): Promise<void> {
    if (!sink.storedPositions) return;
    this.positionsStale = false;
    try {
      this.positions = new PositionIndex(await sink.storedPositions());
    } catch (error) {
      this.positionsStale = true;
      throw error;
    }
    this.logger.info({ topics: this.positions.size }, "resuming after the positions stored by the sink");
  }

  /**
   * Writes a batch until it is durable. Retryable failures are retried with capped backoff up to the instance's
   * write retries (status says why), after which the instance fails; a non-retryable failure of the whole batch is
   * narrowed down record by record so one poison record does not hold back the others. An authentication or
   * authorization failure is not about a record: it ends the instance. Resolves undefined when stopped (or failed)
   * before success.
   */
  private async writeWithRetry(
    sink: SinkInstance,
    records: SinkRecord[],
    retries: BatchRetries,
  ): Promise<WriteOutcome | undefined> {
    const backoff = retries.backoff;
    for (;;) {
      try {
        const began = performance.now();
        const outcome = (await sink.write(records)) ?? { failed: [] };
        this.stats.writeLatency.record(performance.now() - began);
        if (backoff.attempts > 0) this.state = "running";
        // A write that stored something starts the count of retries in a row again.
        if (outcome.failed.length < records.length) backoff.reset();
        return outcome;
      } catch (error) {
        const wrapped = toConnectorError(error, "WRITE_FAILED");
        this.stats.recordConnectorException(wrapped);
        if (isAuthFailure(wrapped)) {
          this.fail(wrapped);
          return undefined;
        }
        if (!wrapped.retryable || !this.policy.sink.retriesWrites) {
          if (records.length === 1) return { failed: [{ index: 0, error: wrapped }] };
          return this.writeOneByOne(sink, records, retries);
        }
        if (this.stopping) return undefined;
        if (retries.exhausted) {
          this.fail(retries.givenUp(wrapped));
          return undefined;
        }
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

  private async writeOneByOne(
    sink: SinkInstance,
    records: SinkRecord[],
    retries: BatchRetries,
  ): Promise<WriteOutcome | undefined> {
    const failed: WriteOutcome["failed"] = [];
    for (const [index, record] of records.entries()) {
      const outcome = await this.writeWithRetry(sink, [record], retries);
      if (outcome === undefined) return undefined;
      const failure = outcome.failed[0];
      if (failure === undefined) continue;
      failed.push({ index, error: failure.error });
      // The refused record is settled (dead-lettered) before the ones after it are written.
      const later = new ConnectorError("WRITE_FAILED", "not written yet: an earlier record was refused", {
        retryable: true,
      });
      for (let rest = index + 1; rest < records.length; rest += 1) failed.push({ index: rest, error: later });
      break;
    }
    return { failed };
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
        const stats = (await adminOf(this.options.pulsar)
          .getTopicStats(topic)
          .catch((error: unknown) => {
            if ((error as { httpStatus?: number }).httpStatus === 404) return undefined;
            throw error;
          })) as { subscriptions?: Record<string, { msgBacklog?: number }> } | undefined;
        backlog += stats?.subscriptions?.[this.options.config.sourceSubscriptionName]?.msgBacklog ?? 0;
      }
      this.stalled = backlog > 0;
    } catch {
      // Status only; an unreachable admin API is reported elsewhere.
    }
  }
}
