import type { SinkRecord } from "@pulsar-connect/core";
import avro from "avsc";
import { METADATA_FIELD, RecordRefused } from "./format.ts";

/** Avro schema of the metadata column (every field but the id and properties is optional). */
export const METADATA_AVRO_SCHEMA = {
  type: "record",
  name: "PulsarMessageMetadata",
  fields: [
    { name: "messageId", type: "string" },
    { name: "properties", type: { type: "map", values: "string" } },
    { name: "eventTime", type: ["null", "long"], default: null },
    { name: "topic", type: ["null", "string"], default: null },
    { name: "publishTime", type: ["null", "long"], default: null },
    { name: "key", type: ["null", "string"], default: null },
  ],
} as const;

/** An Avro record schema as JSON. */
export interface AvroRecordSchema {
  type: "record";
  name: string;
  fields: Array<{ name: string; type: unknown; default?: unknown }>;
  [other: string]: unknown;
}

/**
 * The Avro record schema of a record's value: AVRO and JSON topic schemas both carry one. A record without it cannot
 * become a typed file (upstream asks for a schema there as well).
 */
export function valueSchemaText(record: SinkRecord, formatType: string): string {
  const definition = record.schema?.definition;
  if ((record.schema?.type !== "AVRO" && record.schema?.type !== "JSON") || !definition) {
    throw new RecordRefused(
      `formatType ${formatType} needs an AVRO or JSON topic schema (this record has ${record.schema?.type ?? "none"}); formatType json or bytes write values without one`,
    );
  }
  return definition;
}

const parsed = new Map<string, AvroRecordSchema>();

/** Parses (once) a record schema, adding the metadata field when asked. */
export function recordSchema(text: string, withMetadata: boolean): AvroRecordSchema {
  const cacheKey = `${withMetadata}:${text}`;
  let schema = parsed.get(cacheKey);
  if (!schema) {
    const json = JSON.parse(text) as AvroRecordSchema;
    if (json.type !== "record" || !Array.isArray(json.fields)) {
      throw new RecordRefused("the topic schema is not an Avro record schema");
    }
    schema = withMetadata
      ? { ...json, fields: [...json.fields, { name: METADATA_FIELD, type: METADATA_AVRO_SCHEMA }] }
      : json;
    parsed.set(cacheKey, schema);
  }
  return schema;
}

const types = new Map<string, avro.Type>();

export function avroType(schema: AvroRecordSchema): avro.Type {
  const key = JSON.stringify(schema);
  let type = types.get(key);
  if (!type) {
    type = avro.Type.forSchema(schema as unknown as avro.Schema);
    types.set(key, type);
  }
  return type;
}
