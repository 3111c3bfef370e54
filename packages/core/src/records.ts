/** Schema of a record's value, as Pulsar names it. */
export type SchemaType = "BYTES" | "STRING" | "JSON" | "AVRO";

/** Schema of a plain value (not a key/value pair). */
export interface ValueSchema {
  /** Schema type. */
  type: SchemaType;
  /** The schema definition (Avro/JSON schema text) for JSON and AVRO. */
  definition?: string;
}

/**
 * Where a KeyValue record puts its key: INLINE writes key and value into the payload (each length-prefixed),
 * SEPARATED writes the key into the message key (as bytes, so consumers can route and compact by it) and the value
 * into the payload.
 */
export type KeyValueEncoding = "INLINE" | "SEPARATED";

/** Schema of a key/value pair: the record's value is `{ key, value }`, each encoded by its own schema. */
export interface KeyValueSchema {
  type: "KEY_VALUE";
  /** Schema of the key. */
  key: ValueSchema;
  /** Schema of the value. */
  value: ValueSchema;
  encoding: KeyValueEncoding;
  /** A key/value pair has no definition of its own: its parts have. */
  definition?: undefined;
}

/** Schema information attached to a record or topic. */
export type RecordSchema = ValueSchema | KeyValueSchema;

/**
 * The value of a record whose schema is a {@link KeyValueSchema}. An undefined or null key sends no message key
 * (SEPARATED) or an absent key (INLINE).
 */
export interface KeyValue<K = unknown, V = unknown> {
  key: K;
  value: V;
}

/** Position of a message in a Pulsar topic. */
export interface PulsarPosition {
  /** Full topic name, including the `-partition-N` suffix for partitions. */
  topic: string;
  /** BookKeeper ledger id. */
  ledgerId: bigint;
  /** Entry id within the ledger. */
  entryId: bigint;
  /** Index inside a batch, -1 when the message was not batched. */
  batchIndex: number;
}

/** A record produced by a source, on its way to Pulsar. */
export interface SourceRecord<T = unknown> {
  /** The payload. Strings and bytes are sent as they are; other values as JSON. */
  value: T;
  /** Message key. A record with a SEPARATED {@link KeyValueSchema} has its key in `value.key` instead. */
  key?: string;
  /** Message properties. */
  properties?: Record<string, string>;
  /** Event time, epoch milliseconds. */
  eventTime?: number;
  /** Identity of the external partition; required for EFFECTIVELY_ONCE (becomes the producer name). */
  partitionId?: string;
  /** Monotonic position inside `partitionId`; required for EFFECTIVELY_ONCE (becomes the sequence id). */
  sequence?: bigint;
  /** Send this record to another topic than the configured output topic. */
  destinationTopic?: string;
  /** Schema of the value. With a {@link KeyValueSchema}, `value` is a {@link KeyValue}. */
  schema?: RecordSchema;
  /** Called by the runtime once the guarantee is met (after the send receipt, or at once for ATMOST_ONCE). */
  ack?(): void | Promise<void>;
  /** Called by the runtime when the record could not be delivered. */
  fail?(error: Error): void | Promise<void>;
}

/** A message read from a Pulsar input topic, handed to a sink. */
export interface SinkRecord<T = unknown> {
  /**
   * The decoded value (bytes, string, or parsed JSON/Avro object, according to the topic schema); a {@link KeyValue}
   * of the decoded key and value for a topic with a KeyValue schema.
   */
  value: T;
  /** The raw payload bytes. */
  data: Uint8Array;
  /** Message key. */
  key?: string;
  /** Message properties. */
  properties: Record<string, string>;
  /** Event time, epoch milliseconds. */
  eventTime?: number;
  /** Publish time, epoch milliseconds. */
  publishTime: number;
  /** Topic the message was read from (partition topic name for partitions). */
  topicName: string;
  /** Position of the message, for sinks that store it with their data. */
  position: PulsarPosition;
  /** Serialized Pulsar message id, stable across restarts. */
  messageId: string;
  /** How many times the message was delivered before this one. */
  redeliveryCount: number;
  /** Schema the value was decoded with (or, after a transform function, the schema of its result). */
  schema?: RecordSchema;
  /**
   * Set by a transform function: where the record should go instead of the sink's configured destination. Only
   * sinks declaring `routesByDestination` receive such records; for the others the runtime refuses them.
   */
  destinationTopic?: string;
  /** Only under MANUAL: acknowledge the message. */
  ack?(): void;
  /** Only under MANUAL: negatively acknowledge the message. */
  fail?(error: Error): void;
}

/** The outcome of one record that a sink could not write while the rest of its batch succeeded. */
export interface RecordFailure {
  /** Index of the record in the batch passed to `write`. */
  index: number;
  /** Why it failed. A non-retryable error sends the record to the dead-letter topic at once. */
  error: Error;
}

/** What a sink's `write` may resolve to: nothing (all durable) or the records that failed. */
export interface WriteOutcome {
  /** Records of the batch that were not written; every other record is durable. */
  failed: RecordFailure[];
}
