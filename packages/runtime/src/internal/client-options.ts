import { ConnectorError, type KeyValueSchema, type RecordSchema, type ValueSchema } from "@pulsar-connect/core/host";
import { compressionUnavailable, keyValueSchema, type SchemaInfo } from "@pulsar-connect/pulsar-client";
import type { ResolvedSinkConfig, ResolvedSourceConfig } from "../config.ts";
import { type DeclarableSchemaType, declaredSchemaType } from "../config-fields.ts";

/** Producer settings a source's `producerConfig` (and `batchBuilder`) select. */
export interface SourceProducerSettings {
  batchingEnabled: boolean;
  batchingMaxPublishDelayMs: number;
  /**
   * Send the open batch when the source has nothing more to add in this turn of the event loop: on unless the config
   * names a publish delay, which is then honoured as given.
   */
  batchingFlushWhenIdle: boolean;
  batchingMaxMessages: number;
  batchingMaxBytes?: number;
  batchingType: "DEFAULT" | "KEY_BASED";
  compressionType: "NONE" | "LZ4" | "ZLIB" | "ZSTD" | "SNAPPY";
}

/**
 * The producer settings of a source: upstream's nested `batchingConfig` wins over the flat shorthands, and the
 * batch builder comes from `batchingConfig`, then `producerConfig`, then the top-level `batchBuilder`.
 */
export function sourceProducerSettings(config: ResolvedSourceConfig): SourceProducerSettings {
  const producer = config.producerConfig ?? {};
  const batching = producer.batchingConfig ?? {};
  const builder = batching.batchBuilder ?? producer.batchBuilder ?? config.batchBuilder ?? "DEFAULT";
  const publishDelayMs = batching.batchingMaxPublishDelayMs ?? producer.batchingMaxPublishDelayMs;
  const settings: SourceProducerSettings = {
    batchingEnabled: batching.enabled ?? true,
    batchingMaxPublishDelayMs: publishDelayMs ?? 5,
    batchingFlushWhenIdle: publishDelayMs === undefined,
    batchingMaxMessages: batching.batchingMaxMessages ?? producer.batchingMaxMessages ?? 1000,
    batchingType: String(builder).toUpperCase() === "KEY_BASED" ? "KEY_BASED" : "DEFAULT",
    compressionType: (producer.compressionType?.toUpperCase() as SourceProducerSettings["compressionType"]) ?? "LZ4",
  };
  if (batching.batchingMaxBytes !== undefined) settings.batchingMaxBytes = batching.batchingMaxBytes;
  return settings;
}

/** Refuses a source whose producer codec this Node.js lacks, before anything is opened. */
export function requireSourceCodec(config: ResolvedSourceConfig): void {
  const { compressionType } = sourceProducerSettings(config);
  const unavailable = compressionUnavailable(compressionType);
  if (unavailable) {
    throw new ConnectorError("UNSUPPORTED", `producerConfig.compressionType ${compressionType}: ${unavailable}`, {
      retryable: false,
    });
  }
}

/**
 * Records a source may have waiting for a receipt across all its producers: `maxPendingMessages`, lowered by
 * `maxPendingMessagesAcrossPartitions` (the runtime's in-flight window already spans every partition).
 */
export function sourcePendingLimit(config: ResolvedSourceConfig): number | undefined {
  const producer = config.producerConfig ?? {};
  const limits = [producer.maxPendingMessages, producer.maxPendingMessagesAcrossPartitions].filter(
    (value): value is number => typeof value === "number",
  );
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

/** The output schema a source declares with `schemaType`, if any (AUTO_CONSUME and BYTES declare none). */
export function sourceSchemaType(config: ResolvedSourceConfig): "STRING" | "JSON" | "AVRO" | undefined {
  const type = declaredSchemaType(config.schemaType);
  return type === "STRING" || type === "JSON" || type === "AVRO" ? type : undefined;
}

/**
 * The producer schema of a source whose config declares `schemaType` (registered on the topic by the producer).
 * JSON and AVRO need the definition, which comes from the records: the first record's schema must be of that type.
 * Records with a KeyValue schema always register it: without it, consumers could not tell key from value.
 */
export function sourceOutputSchema(
  config: ResolvedSourceConfig,
  recordSchema: RecordSchema | undefined,
): SchemaInfo | undefined {
  const type = sourceSchemaType(config);
  if (type === undefined && recordSchema?.type === "KEY_VALUE") return keyValueSchemaInfo(recordSchema);
  if (type === undefined) return undefined;
  if (type === "STRING") return { type: "STRING" };
  if (recordSchema?.type === type && recordSchema.definition) return { type, schema: recordSchema.definition };
  throw new ConnectorError(
    "INVALID_CONFIG",
    `schemaType ${type}: the connector's records carry ${recordSchema ? `a ${recordSchema.type} schema` : "no schema"}` +
      `${recordSchema?.type === type ? " without a definition" : ""}, so they cannot be written as ${type}`,
    { retryable: false },
  );
}

/** The topic schema of a KeyValue record schema, laid out as the Java client registers it. */
export function keyValueSchemaInfo(schema: KeyValueSchema): SchemaInfo {
  const part = (value: ValueSchema): SchemaInfo =>
    value.definition === undefined ? { type: value.type } : { type: value.type, schema: value.definition };
  return keyValueSchema(part(schema.key), part(schema.value), schema.encoding);
}

/**
 * The record schema of a KeyValue topic schema (its schema data holds the two length-prefixed definitions, its
 * properties their types and the encoding). A part of a type the codec does not decode is handed over as bytes.
 */
export function keyValueRecordSchema(data: Uint8Array, properties: Record<string, string>): KeyValueSchema {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const keyLength = bytes.length >= 4 ? bytes.readInt32BE(0) : -1;
  const valueStart = 4 + Math.max(keyLength, 0);
  const valueLength = bytes.length >= valueStart + 4 ? bytes.readInt32BE(valueStart) : -1;
  const part = (prefix: string, definition: Buffer): ValueSchema => {
    const declared = properties[`${prefix}.schema.type`];
    const type = declared === "STRING" || declared === "JSON" || declared === "AVRO" ? declared : "BYTES";
    const schema: ValueSchema = { type };
    if (type !== "BYTES" && type !== "STRING" && definition.length > 0) schema.definition = definition.toString("utf8");
    return schema;
  };
  return {
    type: "KEY_VALUE",
    key: part("key", bytes.subarray(4, 4 + Math.max(keyLength, 0))),
    value: part("value", bytes.subarray(valueStart + 4, valueStart + 4 + Math.max(valueLength, 0))),
    encoding: properties["kv.encoding.type"] === "SEPARATED" ? "SEPARATED" : "INLINE",
  };
}

/** Consumer settings a sink's `inputSpecs` select. */
export interface SinkConsumerSettings {
  /** The smallest `receiverQueueSize` of the inputs that set one (one consumer serves every input). */
  receiverQueueSize?: number;
  /** Every input's `consumerProperties`, merged. */
  properties?: Record<string, string>;
  /** Schema types the inputs declare (`topicToSchemaType`, `inputSpecs.*.schemaType`), by qualified topic. */
  schemaTypes: Map<string, DeclarableSchemaType>;
}

/** The consumer settings of a sink. `qualify` turns a short topic name into the full name the consumer sees. */
export function sinkConsumerSettings(
  config: ResolvedSinkConfig,
  qualify: (topic: string) => string,
): SinkConsumerSettings {
  const settings: SinkConsumerSettings = { schemaTypes: new Map() };
  const sizes: number[] = [];
  for (const [topic, spec] of Object.entries(config.inputSpecs ?? {})) {
    if (!spec) continue;
    if (typeof spec.receiverQueueSize === "number") sizes.push(spec.receiverQueueSize);
    if (spec.consumerProperties) settings.properties = { ...settings.properties, ...spec.consumerProperties };
    const type = declaredSchemaType(spec.schemaType);
    if (type && type !== "AUTO_CONSUME" && spec.isRegexPattern !== true) settings.schemaTypes.set(qualify(topic), type);
  }
  for (const [topic, schemaType] of Object.entries(config.topicToSchemaType ?? {})) {
    const type = declaredSchemaType(schemaType);
    if (type && type !== "AUTO_CONSUME") settings.schemaTypes.set(qualify(topic), type);
  }
  if (sizes.length > 0) settings.receiverQueueSize = Math.min(...sizes);
  return settings;
}

/**
 * The schema a sink decodes a topic's messages with: the registered one; for a topic without a registered schema,
 * the one the config declares. A declared type that differs from the registered one is an error (upstream refuses
 * to subscribe with an incompatible schema).
 */
export function inputSchema(
  topic: string,
  registered: RecordSchema | undefined,
  declared: DeclarableSchemaType | undefined,
): RecordSchema | undefined {
  if (!declared || declared === "AUTO_CONSUME") return registered;
  if (!registered)
    return declared === "JSON" || declared === "STRING" || declared === "BYTES" ? { type: declared } : undefined;
  if (registered.type !== declared) {
    throw new Error(`input ${topic} declares schema type ${declared}, but the topic's schema is ${registered.type}`);
  }
  return registered;
}
