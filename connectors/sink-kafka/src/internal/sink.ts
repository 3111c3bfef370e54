import {
  ConnectorError,
  type RecordFailure,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import { brokerList, isRetriable, kafkaLogCreator, securityOptions } from "@pulsar-connect/kafka-common";
import type { Message, Producer, ProducerConfig } from "kafkajs";
import kafkajs from "kafkajs";
import { isIdempotent, type KafkaSinkConfig } from "../definition.ts";

const { Kafka, logLevel, Partitioners, CompressionTypes } = kafkajs;

// Kafka answers that concern the sink's credentials or ACLs, never one record.
const AUTH_ERROR_TYPES: ReadonlySet<string> = new Set([
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
  "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
]);

function isAuthError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    const { name, type, cause } = current as { name?: unknown; type?: unknown; cause?: unknown };
    if (name === "KafkaJSSASLAuthenticationError") return true;
    if (typeof type === "string" && AUTH_ERROR_TYPES.has(type)) return true;
    current = cause;
  }
  return false;
}

/** A failed produce request as a ConnectorError: AUTH_FAILED for credentials and ACLs, else WRITE_FAILED. */
export function toProduceError(error: unknown): ConnectorError {
  const message = `Kafka produce failed: ${(error as Error)?.message ?? String(error)}`;
  if (isAuthError(error)) return new ConnectorError("AUTH_FAILED", message, { retryable: false, cause: error });
  return new ConnectorError("WRITE_FAILED", message, { retryable: isRetriable(error), cause: error });
}

/** Bytes a record takes in a produce request, without the per-record framing. */
export function messageSize(message: Message): number {
  let size = message.value ? (message.value as Buffer).byteLength : 0;
  if (message.key) size += typeof message.key === "string" ? Buffer.byteLength(message.key) : message.key.byteLength;
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    size += Buffer.byteLength(name) + (typeof value === "string" ? Buffer.byteLength(value) : 0);
  }
  return size;
}

/**
 * Splits record indexes into produce requests of at most `batchSize` bytes (a bigger single record gets a request
 * of its own); records above `maxRequestSize` go to `tooLarge`.
 */
export function planRequests(
  sizes: readonly number[],
  batchSize: number,
  maxRequestSize: number,
): { requests: number[][]; tooLarge: number[] } {
  const requests: number[][] = [];
  const tooLarge: number[] = [];
  let current: number[] = [];
  let bytes = 0;
  sizes.forEach((size, index) => {
    if (size > maxRequestSize) {
      tooLarge.push(index);
      return;
    }
    if (current.length > 0 && bytes + size > batchSize) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) requests.push(current);
  return { requests, tooLarge };
}

/** The Kafka message for a sink record: bytes as the value, the key, properties as headers when asked. */
export function toKafkaMessage(record: SinkRecord, copyHeaders: boolean): Message {
  const message: Message = {
    value: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength),
  };
  if (record.key !== undefined) message.key = record.key;
  if (record.eventTime !== undefined && record.eventTime > 0) message.timestamp = String(record.eventTime);
  if (copyHeaders && Object.keys(record.properties).length > 0) message.headers = { ...record.properties };
  return message;
}

/** A Kafka producer behind the sink contract. */
export class KafkaSink implements SinkInstance {
  private readonly config: KafkaSinkConfig;
  private readonly producer: Producer;
  private readonly acks: -1 | 0 | 1;
  private readonly compression: number;

  private constructor(config: KafkaSinkConfig, context: SinkContext) {
    this.config = config;
    const props = config.producerConfigProperties ?? {};
    const idempotent = isIdempotent(config);
    this.acks = config.acks === "all" ? -1 : config.acks === "1" ? 1 : 0;
    // kafkajs keeps an idempotent producer's sequence numbers right only with one request in flight.
    const inFlight = idempotent ? 1 : Number(props["max.in.flight.requests.per.connection"] ?? 5);
    this.compression = props["compression.type"] === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None;
    const retries = props.retries === undefined ? 8 : Number(props.retries);
    const kafka = new Kafka({
      clientId: String(props["client.id"] ?? `pulsar-connect-${context.name}-${context.instanceId}`),
      brokers: brokerList(config.bootstrapServers),
      connectionTimeout: 5000,
      ...(props["request.timeout.ms"] === undefined ? {} : { requestTimeout: Number(props["request.timeout.ms"]) }),
      retry: { retries, initialRetryTime: 300, maxRetryTime: 10_000 },
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(context.logger),
      ...securityOptions(config),
    });
    const options: ProducerConfig = {
      idempotent,
      maxInFlightRequests: inFlight,
      createPartitioner: Partitioners.DefaultPartitioner,
    };
    this.producer = kafka.producer(options);
  }

  static async open(config: KafkaSinkConfig, context: SinkContext): Promise<KafkaSink> {
    const sink = new KafkaSink(config, context);
    try {
      await sink.producer.connect();
    } catch (error) {
      throw new ConnectorError("CONNECTION_FAILED", `Cannot connect to Kafka: ${(error as Error).message}`, {
        retryable: true,
        cause: error,
      });
    }
    return sink;
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    const messages = records.map((record) => toKafkaMessage(record, this.config.copyHeadersEnabled));
    const { requests, tooLarge } = planRequests(
      messages.map(messageSize),
      this.config.batchSize,
      this.config.maxRequestSize,
    );
    const failed: RecordFailure[] = tooLarge.map((index) => ({
      index,
      error: new ConnectorError(
        "INVALID_RECORD",
        `Record of ${messageSize(messages[index] as Message)} bytes exceeds maxRequestSize ${this.config.maxRequestSize}`,
        { retryable: false },
      ),
    }));
    let firstError: ConnectorError | undefined;
    // One request after the other: concurrent kafkajs sends may reach a partition out of order.
    for (const indexes of requests) {
      try {
        await this.producer.send({
          topic: this.config.topic,
          acks: this.acks,
          compression: this.compression,
          messages: indexes.map((index) => messages[index] as Message),
        });
      } catch (error) {
        const failure = toProduceError(error);
        firstError ??= failure;
        // Later requests would overtake the failed one: fail them too, the runtime retries them in order.
        for (const index of requests.slice(requests.indexOf(indexes)).flat()) failed.push({ index, error: failure });
        break;
      }
    }
    if (failed.length === 0) return;
    if (failed.length === records.length && firstError) throw firstError;
    failed.sort((a, b) => a.index - b.index);
    return { failed };
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
