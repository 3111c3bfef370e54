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
} from "@pulsar-connect/core";
import type { ProducerOptions } from "@pulsar-connect/pulsar-client";
import { qualifyTopic, type ResolvedSourceConfig } from "../config.ts";
import type { SourceInstanceStatusData } from "../stats.ts";
import { Backoff, sleep } from "./backoff.ts";
import { sourceOutputSchema, sourcePendingLimit, sourceProducerSettings } from "./client-options.ts";
import { encodeValue } from "./codec.ts";
import { secretResolver } from "./context.ts";
import { adminRequest, type ProducerLike, type PulsarConnections, topicPath } from "./pulsar.ts";
import { RunnerBase } from "./runner-base.ts";

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
  const path = topicPath(topic);
  try {
    const applied = await adminRequest(pulsar, "GET", `/admin/v2/${path}/deduplicationEnabled?applied=true`);
    if (typeof applied === "boolean") return applied;
  } catch {
    // Older brokers or no topic policies: fall back to the namespace and broker settings.
  }
  const [, tenant, namespace] = path.split("/");
  const namespacePolicy = await adminRequest(
    pulsar,
    "GET",
    `/admin/v2/namespaces/${tenant}/${namespace}/deduplication`,
  );
  if (typeof namespacePolicy === "boolean") return namespacePolicy;
  const runtime = (await adminRequest(pulsar, "GET", "/admin/v2/brokers/configuration/runtime")) as
    | Record<string, string>
    | undefined;
  return runtime?.brokerDeduplicationEnabled === "true";
}

/** Runs one source instance: source.read -> Pulsar producers, acking source records per the guarantee. */
export class SourceRunner extends RunnerBase {
  readonly kind = "source" as const;

  private readonly options: SourceRunnerOptions;
  private source: SourceInstance | undefined;
  private readonly producers = new Map<string, Promise<ProducerLike>>();
  private inFlight = 0;
  private wakeLoop: (() => void) | undefined;
  private readonly checkedTopics = new Set<string>();

  constructor(options: SourceRunnerOptions) {
    super(options.instanceId, options.logger);
    this.options = options;
  }

  protected wake(): void {
    this.wakeLoop?.();
  }

  private get guarantee() {
    return this.options.config.processingGuarantees;
  }

  private get inFlightLimit(): number {
    return this.options.inFlightLimit ?? sourcePendingLimit(this.options.config) ?? 2000;
  }

  async start(): Promise<void> {
    const { config, definition } = this.options;
    await this.opening(async () => {
      const connectorConfig = loadConfig(definition.config, config.configs, secretResolver(config.secrets));
      if (this.guarantee === "EFFECTIVELY_ONCE") await this.requireDeduplication(config.topicName);
      const context: SourceContext = {
        ...this.connectorContext(config, this.options.state),
        outputTopic: config.topicName,
      };
      this.state = "opening connector";
      this.source = await definition.open(connectorConfig, context);
    });
    void this.loop();
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

  private producerFor(
    topic: string,
    partitionId: string | undefined,
    recordSchema: RecordSchema | undefined,
  ): Promise<ProducerLike> {
    const key = partitionId === undefined ? topic : `${topic}\u0000${partitionId}`;
    let producer = this.producers.get(key);
    if (!producer) {
      const options: ProducerOptions = {
        topic,
        ...sourceProducerSettings(this.options.config),
        maxPendingMessages: Math.max(this.inFlightLimit, 1000),
        sendTimeoutMs: 0,
      };
      try {
        const schema = sourceOutputSchema(this.options.config, recordSchema);
        if (schema) options.schema = schema;
      } catch (error) {
        this.fail(error);
        return Promise.reject(error);
      }
      if (partitionId !== undefined) options.producerName = partitionId;
      producer = this.options.pulsar.client.createProducer(options);
      producer.catch(() => this.producers.delete(key));
      this.producers.set(key, producer);
    }
    return producer;
  }

  private async loop(): Promise<void> {
    const source = this.source;
    const backoff = new Backoff(100, 10_000);
    try {
      while (!this.stopping && source) {
        if (this.inFlight >= this.inFlightLimit) {
          await new Promise<void>((resolve) => {
            this.wakeLoop = resolve;
          });
          this.wakeLoop = undefined;
          continue;
        }
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
        if (records.length > 0) this.state = "running";
        for (const record of records) this.send(record);
      }
    } catch (error) {
      this.stats.recordSystemException(error);
      this.fatalError ??= error;
    }
    await this.drain();
    await this.finish();
  }

  private async drain(): Promise<void> {
    while (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.wakeLoop = resolve;
      });
      this.wakeLoop = undefined;
    }
  }

  private settle(): void {
    this.inFlight -= 1;
    this.wakeLoop?.();
  }

  private send(record: SourceRecord): void {
    this.stats.received += 1;
    this.stats.lastReceivedTime = Date.now();
    const topic = record.destinationTopic
      ? qualifyTopic(record.destinationTopic, this.options.config.tenant, this.options.config.namespace)
      : this.options.config.topicName;
    const effectivelyOnce = this.guarantee === "EFFECTIVELY_ONCE";
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
    this.inFlight += 1;
    if (this.guarantee === "ATMOST_ONCE") void Promise.resolve(record.ack?.()).catch(() => {});
    void this.publish(topic, record, effectivelyOnce).finally(() => this.settle());
  }

  private async publish(topic: string, record: SourceRecord, effectivelyOnce: boolean): Promise<void> {
    try {
      if (effectivelyOnce && topic !== this.options.config.topicName) await this.requireDeduplication(topic);
      const producer = await this.producerFor(topic, effectivelyOnce ? record.partitionId : undefined, record.schema);
      const message: {
        value: Uint8Array;
        key?: string;
        properties?: Record<string, string>;
        eventTime?: number;
        sequenceId?: bigint;
      } = { value: encodeValue(record.value, record.schema) };
      if (record.key !== undefined) message.key = record.key;
      if (record.properties) message.properties = record.properties;
      if (record.eventTime !== undefined) message.eventTime = record.eventTime;
      if (effectivelyOnce) {
        const sequence = record.sequence as bigint;
        if (sequence <= producer.lastSequenceId) {
          // Already stored before a restart (the broker would drop it as a duplicate anyway).
          this.stats.written += 1;
          if (this.guarantee !== "MANUAL") await record.ack?.();
          return;
        }
        message.sequenceId = sequence;
      }
      await producer.send(message);
      this.stats.written += 1;
      if (this.guarantee === "ATLEAST_ONCE" || effectivelyOnce) await record.ack?.();
    } catch (error) {
      this.stats.recordSystemException(error);
      if (this.guarantee === "ATLEAST_ONCE" || effectivelyOnce) {
        await Promise.resolve(record.fail?.(error instanceof Error ? error : new Error(String(error)))).catch(() => {});
      }
    }
  }

  protected async cleanup(): Promise<void> {
    const source = this.source;
    this.source = undefined;
    if (source) await source.close().catch((error: unknown) => this.stats.recordConnectorException(error));
    for (const producer of this.producers.values()) {
      await producer
        .then(async (p) => {
          await p.flush().catch(() => {});
          await p.close();
        })
        .catch(() => {});
    }
    this.producers.clear();
  }
}
