import type { SinkRecord } from "@pulsar-connect/core";

/** Pulsar metadata written next to each record when `withMetadata` is on (upstream's field name). */
export const METADATA_FIELD = "__message_metadata__";

export interface MetadataOptions {
  withMetadata: boolean;
  useHumanReadableMessageId: boolean;
  includeTopicToMetadata: boolean;
  includePublishTimeToMetadata: boolean;
  includeMessageKeyToMetadata: boolean;
}

/** The metadata of one record; every value is a string, a number or a string map, so every format can hold it. */
export interface RecordMetadata {
  messageId: string;
  properties: Record<string, string>;
  eventTime?: number;
  topic?: string;
  publishTime?: number;
  key?: string;
}

export function recordMetadata(record: SinkRecord, options: MetadataOptions): RecordMetadata {
  const { ledgerId, entryId, batchIndex } = record.position;
  const partition = /-partition-(\d+)$/.exec(record.topicName)?.[1] ?? "-1";
  const metadata: RecordMetadata = {
    messageId: options.useHumanReadableMessageId
      ? `${ledgerId}:${entryId}:${partition}:${batchIndex}`
      : Buffer.from(record.messageId, "utf8").toString("hex"),
    properties: record.properties,
  };
  if (record.eventTime !== undefined) metadata.eventTime = record.eventTime;
  if (options.includeTopicToMetadata) metadata.topic = record.topicName;
  if (options.includePublishTimeToMetadata) metadata.publishTime = record.publishTime;
  if (options.includeMessageKeyToMetadata && record.key !== undefined) metadata.key = record.key;
  return metadata;
}

/** The metadata with every optional field present (null when unset), as Avro and Parquet rows want it. */
export function metadataWithNulls(metadata: RecordMetadata): Record<string, unknown> {
  return {
    messageId: metadata.messageId,
    properties: metadata.properties,
    eventTime: metadata.eventTime ?? null,
    topic: metadata.topic ?? null,
    publishTime: metadata.publishTime ?? null,
    key: metadata.key ?? null,
  };
}

/** Writes the records of one object. `row` checks and converts one record (throws for a record it cannot hold). */
export interface ObjectFormat<Row> {
  /** File name extension, with the dot. */
  extension: string;
  row(record: SinkRecord): Row;
  /** Rows with different group keys never share an object (the schema of typed files). */
  groupKey(row: Row): string;
  /** The object's bytes; `seed` makes anything random in the file (an Avro sync marker) repeatable. */
  encode(rows: Row[], seed: string): Uint8Array;
}

/** A record the format cannot hold; the runtime dead-letters or redelivers it per the guarantee. */
export class RecordRefused extends Error {}

/** The value of a record as a JSON-compatible value: decoded schema values as they are, bytes parsed as JSON. */
export function jsonValue(record: SinkRecord): unknown {
  const value = record.value;
  if (value instanceof Uint8Array || typeof value === "string") {
    const text = typeof value === "string" ? value : Buffer.from(value).toString("utf8");
    try {
      return JSON.parse(text);
    } catch {
      if (record.schema?.type === "STRING") return text;
      throw new RecordRefused("the value is not JSON; formatType bytes writes values that are not JSON");
    }
  }
  return value;
}

/**
 * A JSON.stringify replacer for record values: bigints as numbers when they fit (else text), bytes as base64.
 * A plain function, as it reads the holder: Buffer's toJSON runs before a replacer sees the value.
 */
export function jsonSafe(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return Buffer.from(original).toString("base64");
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}
