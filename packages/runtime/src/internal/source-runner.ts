import {
  ConnectorError,
  type Logger,
  loadConfig,
  type RecordSchema,
  type SourceContext,
  type SourceDefinition,
  type SourceInstance,
  type SourceRecord,
  type StateStore,
  toConnectorError,
} from "@pulsar-connect/core/host";
import type { ProducerOptions } from "@pulsar-connect/pulsar-client";
import { qualifyTopic, type ResolvedSourceConfig } from "../config.ts";
import type { SourceInstanceStatusData } from "../stats.ts";
import { Backoff, sleep } from "./backoff.ts";
import {
  requireSourceCodec,
  sourceOutputSchema,
  sourcePendingLimit,
  sourceProducerSettings,
} from "./client-options.ts";
import { type EncodedRecord, encodeRecord } from "./codec.ts";
import { secretResolver } from "./context.ts";
import { EventLoopTurns } from "./event-loop-turn.ts";
import { guaranteePolicy, type SourceGuarantee } from "./guarantee-policy.ts";
import { adminOf, type ProducerLike, type PulsarConnections, topicPath } from "./pulsar.ts";
import { RunnerBase } from "./runner-base.ts";
import { type LaneHost, type OutgoingRecord, OutputLane } from "./source-lane.ts";
import { StoredSequences } from "./stored-sequences.ts";

export interface SourceRunnerOptions {
  config: ResolvedSourceConfig;
  definition: SourceDefinition;
  instanceId: number;
  pulsar: PulsarConnections;
  logger: Logger;
  state: StateStore;
  workerId: string;
  /** Records sent but not yet confirmed, at most. */
  inFlightLimit?: number;
}

/**
 * Checks that broker deduplication applies to `topic` (topic policy, else namespace policy, else broker default).
 * Effectively-once output depends on it, so a source refuses to start without it.
 */
export async function deduplicationEnabled(pulsar: PulsarConnections, topic: string): Promise<boolean> {
  return adminOf(pulsar).getTopicDeduplication(topic);
}

/** Runs one source instance: source.read -> Pulsar producers, acking source records per the guarantee. */
export class SourceRunner extends RunnerBase {
  readonly kind = "source" as const;

  private readonly options: SourceRunnerOptions;
  private source: SourceInstance | undefined;
  private readonly laneHost: LaneHost;
  private readonly lanes = new Map<string, OutputLane>();
  /** The schema of the first record of each lane: its producer declares it. */
  private readonly laneSchemas = new Map<OutputLane, RecordSchema | undefined>();
  private readonly waitingLanes = new Map<OutputLane, string>();
  private readonly disconnectedLanes = new Set<OutputLane>();
  private connectionWatch: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private order = 0;
  private wakeLoop: (() => void) | undefined;
  private readonly checkedTopics = new Set<string>();
  private readonly storedSequences = new StoredSequences((topic, producerName, record) =>
    this.options.pulsar.client.createProducer(this.lookupProducerOptions(topic, producerName, record)),
  );

  constructor(options: SourceRunnerOptions) {
    super(options.instanceId, options.logger);
    this.options = options;
    this.laneHost = this.makeLaneHost();
  }

  protected wake(): void {
    this.wakeLoop?.();
  }

  private get guarantee() {
    return this.options.config.processingGuarantees;
  }

  /** What the instance's guarantee means on the source side. */
  private get policy(): SourceGuarantee {
    return guaranteePolicy(this.guarantee).source;
  }

  private get inFlightLimit(): number {
    return this.options.inFlightLimit ?? sourcePendingLimit(this.options.config) ?? 2000;
  }

  async start(): Promise<void> {
    const { config, definition } = this.options;
    await this.opening(async () => {
      requireSourceCodec(config);
      const connectorConfig = loadConfig(definition.config, config.configs, secretResolver(config.secrets));
      if (this.policy.requiresSequence) await this.requireDeduplication(config.topicName);
      const context: SourceContext = {
        ...this.connectorContext(config, this.options.state),
        processingGuarantee: this.guarantee,
        outputTopic: config.topicName,
      };
      this.state = "opening connector";
      this.source = await definition.open(connectorConfig, context);
    });
    this.connectionWatch = setInterval(() => this.watchConnections(), 250);
    this.connectionWatch.unref();
    void this.loop();
  }

  /** A producer that reconnects keeps its records; meanwhile the source is not read and the status says why. */
  private watchConnections(): void {
    for (const lane of this.lanes.values()) {
      const lost = lane.connectionLost;
      const marked = this.disconnectedLanes.has(lane);
      if (lost && !marked) {
        this.disconnectedLanes.add(lane);
        if (!this.waitingLanes.has(lane)) this.laneWaiting(lane, `connection to ${lane.topic} lost, reconnecting`);
      } else if (!lost && marked) {
        this.disconnectedLanes.delete(lane);
        if (this.waitingLanes.get(lane)?.startsWith("connection to")) this.laneWaiting(lane, undefined);
      }
    }
  }

  status(): SourceInstanceStatusData {
    return {
      running: this.running,
      error: this.error,
      numRestarts: 0,
      numReceivedFromSource: this.stats.received,
      numSystemExceptions: this.stats.systemExceptions,
      latestSystemExceptions: [...this.stats.latestSystemExceptions],
      numSourceExceptions: this.stats.connectorExceptions,
      latestSourceExceptions: [...this.stats.latestConnectorExceptions],
      numWritten: this.stats.written,
      lastReceivedTime: this.stats.lastReceivedTime,
      workerId: this.options.workerId,
      stalled: false,
      state: this.state,
    };
  }

  private async requireDeduplication(topic: string): Promise<void> {
    if (this.checkedTopics.has(topic)) return;
    if (!(await deduplicationEnabled(this.options.pulsar, topic))) {
      const [, tenant, namespace] = topicPath(topic).split("/");
      throw new ConnectorError(
        "INVALID_CONFIG",
        `EFFECTIVELY_ONCE needs broker deduplication for ${topic}, and it is off. Enable it with ` +
          `'pulsar-admin namespaces set-deduplication ${tenant}/${namespace} --enable' ` +
          `(or brokerDeduplicationEnabled=true), or choose ATLEAST_ONCE.`,
        { retryable: false },
      );
    }
    this.checkedTopics.add(topic);
  }

  /** The lane of a record: one per topic, and under EFFECTIVELY_ONCE one per topic and partitionId. */
  private laneFor(topic: string, partitionId: string | undefined): OutputLane {
    const key = partitionId === undefined ? topic : `${topic}\u0000${partitionId}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = new OutputLane(topic, partitionId, this.laneHost);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private async openProducer(lane: OutputLane): Promise<ProducerLike> {
    // Checked in the lane, before its first send: a check per record would let later records overtake earlier ones.
    if (this.policy.requiresSequence) await this.requireDeduplication(lane.topic);
    const options: ProducerOptions = {
      topic: lane.topic,
      ...sourceProducerSettings(this.options.config),
      maxPendingMessages: Math.max(this.inFlightLimit, 1000),
      sendTimeoutMs: 0,
    };
    // A declared schemaType that the records contradict fails the instance (a permanent failure, not a retry).
    const schema = sourceOutputSchema(this.options.config, this.laneSchemas.get(lane));
    if (schema) options.schema = schema;
    if (lane.producerName !== undefined) options.producerName = lane.producerName;
    return this.options.pulsar.client.createProducer(options);
  }

  private makeLaneHost(): LaneHost {
    return {
      signal: this.abort.signal,
      retriesPassingFailures: this.policy.retriesPassingSendFailures,
      openProducer: (lane) => this.openProducer(lane),
      stored: (entry, alreadyStored) => {
        this.stats.written += 1;
        if (!alreadyStored && entry.submittedAt !== undefined) {
          this.stats.writeLatency.record(performance.now() - entry.submittedAt);
        }
        if (this.policy.ackWhen === "sent") {
          void Promise.resolve(entry.record.ack?.())
            .catch((error: unknown) => this.stats.recordConnectorException(error))
            .finally(() => this.settle());
        } else {
          this.settle();
        }
      },
      refused: (entry, error) => {
        this.stats.recordSystemException(error);
        if (this.policy.permanentFailureEndsInstance) {
          // The source may move back to the record; under ATMOST_ONCE it was acked already and must not come again.
          void Promise.resolve(entry.record.fail?.(asError(error))).catch(() => {});
          this.fail(
            new ConnectorError(
              "WRITE_FAILED",
              `a record from the source cannot be stored in ${this.laneTopicOf(entry)}, so the instance stops ` +
                `instead of losing it: ${asError(error).message}`,
              { retryable: false, cause: error },
            ),
          );
          this.settle();
          return "halt";
        }
        this.stats.dropped += 1;
        this.settle();
        return "continue";
      },
      cannotOpen: (lane, error) => {
        this.stats.recordSystemException(error);
        this.fail(error);
        this.laneWaiting(lane, undefined);
      },
      dropped: (_entry, error) => {
        this.stats.recordSystemException(error);
        this.stats.dropped += 1;
        this.settle();
      },
      abandoned: () => this.settle(),
      waiting: (lane, reason) => this.laneWaiting(lane, reason),
    };
  }

  private laneTopicOf(entry: OutgoingRecord): string {
    return entry.record.destinationTopic
      ? qualifyTopic(entry.record.destinationTopic, this.options.config.tenant, this.options.config.namespace)
      : this.options.config.topicName;
  }

  /** Status while any lane waits: the source is not read meanwhile (backpressure). */
  private laneWaiting(lane: OutputLane, reason: string | undefined): void {
    if (reason === undefined) this.waitingLanes.delete(lane);
    else this.waitingLanes.set(lane, reason);
    const first = this.waitingLanes.values().next();
    if (!first.done) this.state = `waiting for the broker: ${first.value}`;
    else if (this.state.startsWith("waiting for the broker")) {
      this.state = "running";
      this.wakeLoop?.();
    }
  }

  private async loop(): Promise<void> {
    const source = this.source;
    const backoff = new Backoff(100, 10_000);
    // A source that has records at once (a generator, a buffered client) would otherwise read and send batch after
    // batch in one chain of microtasks, started anew by every send receipt, and hold the thread meanwhile.
    const turns = new EventLoopTurns();
    try {
      while (!this.stopping && source) {
        if (this.inFlight >= this.inFlightLimit || this.waitingLanes.size > 0) {
          await new Promise<void>((resolve) => {
            this.wakeLoop = resolve;
          });
          this.wakeLoop = undefined;
          continue;
        }
        await turns.take();
        if (this.stopping) break;
        let records: SourceRecord[] | null;
        try {
          records = await source.read({ maxRecords: this.inFlightLimit - this.inFlight, signal: this.abort.signal });
          backoff.reset();
        } catch (error) {
          const wrapped = toConnectorError(error, "READ_FAILED");
          this.stats.recordConnectorException(wrapped);
          if (!wrapped.retryable) throw wrapped;
          const delay = backoff.next();
          this.state = `retrying read in ${delay} ms: ${wrapped.message}`;
          await sleep(delay, this.abort.signal);
          continue;
        }
        if (records === null) {
          this.state = "source exhausted";
          break;
        }
        if (records.length > 0 && this.waitingLanes.size === 0) this.state = "running";
        const fresh = this.policy.skipsSequencesTheTopicHolds ? await this.notInTopic(records) : records;
        if (fresh === undefined) break;
        if (this.policy.ackWhen === "read") {
          if (!(await this.ackBeforeSend(records, backoff))) continue;
          // Committed at the source: the whole batch goes, even when a stop comes now (the drain flushes it).
          for (const record of fresh) this.send(record);
          continue;
        }
        if (fresh.length < records.length) {
          const sending = new Set(fresh);
          for (const record of records) if (!sending.has(record)) void this.ackHeld(record);
        }
        for (const record of fresh) {
          // A refused record stops the instance: nothing read after it is sent (it stays unacked at the source).
          if (this.stopping) break;
          this.send(record);
        }
      }
    } catch (error) {
      this.stats.recordSystemException(error);
      this.fatalError ??= error;
    }
    await this.drain();
    await this.finish();
  }

  private async drain(): Promise<void> {
    let shutDown = false;
    while (this.inFlight > 0) {
      if (this.abort.signal.aborted && !shutDown) {
        // Stopping: what was not sent yet stays unacked at the source, what is in flight gets a bounded flush.
        shutDown = true;
        await Promise.all([...this.lanes.values()].map((lane) => lane.shutdown()));
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wakeLoop = resolve;
        // A stop may come while draining an exhausted source: re-check then.
        if (this.abort.signal.aborted && !shutDown) resolve();
      });
      this.wakeLoop = undefined;
    }
  }

  /**
   * ATMOST_ONCE: the source commits a batch before any of it is sent, so a crash after a send cannot bring a record
   * again. A commit that fails for a passing reason is tried again with backoff; one that cannot pass ends the
   * instance. Returns false when the instance stops meanwhile: nothing of the batch is sent.
   */
  private async ackBeforeSend(records: SourceRecord[], backoff: Backoff): Promise<boolean> {
    for (;;) {
      try {
        await Promise.all(records.map((record) => record.ack?.()));
        return true;
      } catch (error) {
        const wrapped = toConnectorError(error, "READ_FAILED");
        this.stats.recordConnectorException(wrapped);
        if (!wrapped.retryable) {
          throw new ConnectorError(
            "READ_FAILED",
            `the source could not commit records before sending them (ATMOST_ONCE): ${wrapped.message}`,
            { retryable: false, cause: error },
          );
        }
        const delay = backoff.next();
        this.state = `retrying the source's commit in ${delay} ms: ${wrapped.message}`;
        await sleep(delay, this.abort.signal);
        if (this.stopping) return false;
      }
    }
  }

  /**
   * The records the topic does not hold yet (see {@link StoredSequences}); undefined when the instance stopped while
   * the broker could not be asked. A failed look-up is tried again with backoff: skipping it could publish twice.
   */
  private async notInTopic(records: SourceRecord[]): Promise<SourceRecord[] | undefined> {
    const backoff = new Backoff(200, 10_000);
    const fresh: SourceRecord[] = [];
    for (const record of records) {
      for (;;) {
        try {
          if (!(await this.storedSequences.holds(this.topicOf(record), record))) fresh.push(record);
          break;
        } catch (error) {
          const wrapped = toConnectorError(error, "CONNECTION_FAILED");
          this.stats.recordSystemException(wrapped);
          const delay = backoff.next();
          this.state = `asking the broker which sequences ${this.topicOf(record)} holds, again in ${delay} ms: ${wrapped.message}`;
          await sleep(delay, this.abort.signal);
          if (this.stopping) return undefined;
        }
      }
    }
    if (backoff.attempts > 0) this.state = "running";
    return fresh;
  }

  /** Acknowledges a record the topic holds already (an earlier instance sent it): delivered, nothing to send. */
  private async ackHeld(record: SourceRecord): Promise<void> {
    try {
      await record.ack?.();
    } catch (error) {
      this.stats.recordConnectorException(error);
    }
  }

  /** A producer named after a partitionId, only to learn the last sequence the broker stored for it. */
  private lookupProducerOptions(topic: string, producerName: string, record: SourceRecord): ProducerOptions {
    const options: ProducerOptions = { ...sourceProducerSettings(this.options.config), topic, producerName };
    const schema = sourceOutputSchema(this.options.config, record.schema);
    if (schema) options.schema = schema;
    return options;
  }

  private topicOf(record: SourceRecord): string {
    return record.destinationTopic
      ? qualifyTopic(record.destinationTopic, this.options.config.tenant, this.options.config.namespace)
      : this.options.config.topicName;
  }

  private settle(): void {
    this.inFlight -= 1;
    this.wakeLoop?.();
  }

  private send(record: SourceRecord): void {
    this.stats.received += 1;
    this.stats.lastReceivedTime = Date.now();
    const topic = this.topicOf(record);
    const effectivelyOnce = this.policy.requiresSequence;
    if (effectivelyOnce && (record.partitionId === undefined || record.sequence === undefined)) {
      const error = new ConnectorError(
        "INVALID_RECORD",
        "EFFECTIVELY_ONCE needs partitionId and sequence on every record; this source does not provide them",
        { retryable: false },
      );
      void Promise.resolve(record.fail?.(error)).catch(() => {});
      this.fail(error);
      return;
    }
    let encoded: EncodedRecord;
    try {
      encoded = encodeRecord(record.value, record.schema);
      const separated = record.schema?.type === "KEY_VALUE" && record.schema.encoding === "SEPARATED";
      if (separated && record.key !== undefined) {
        throw new ConnectorError(
          "INVALID_RECORD",
          "a record with a SEPARATED KeyValue schema carries its key in value.key; it cannot also set key",
          { retryable: false },
        );
      }
    } catch (error) {
      this.inFlight += 1;
      this.laneHost.refused(
        { record, order: this.order++, message: { value: new Uint8Array() }, sequence: undefined },
        error,
      );
      return;
    }
    const message: OutgoingRecord["message"] = { value: encoded.payload };
    if (encoded.keyBytes !== undefined) message.keyBytes = encoded.keyBytes;
    else if (record.key !== undefined) message.key = record.key;
    if (record.properties) message.properties = record.properties;
    if (record.eventTime !== undefined) message.eventTime = record.eventTime;
    this.inFlight += 1;
    const lane = this.laneFor(topic, effectivelyOnce ? record.partitionId : undefined);
    if (!this.laneSchemas.has(lane)) this.laneSchemas.set(lane, record.schema);
    lane.submit({
      record,
      order: this.order++,
      message,
      sequence: effectivelyOnce ? (record.sequence as bigint) : undefined,
      submittedAt: performance.now(),
    });
  }

  protected async cleanup(): Promise<void> {
    if (this.connectionWatch) clearInterval(this.connectionWatch);
    const source = this.source;
    this.source = undefined;
    if (source) await source.close().catch((error: unknown) => this.stats.recordConnectorException(error));
    await Promise.all([...this.lanes.values()].map((lane) => lane.shutdown()));
    this.lanes.clear();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
