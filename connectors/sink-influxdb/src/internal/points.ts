import type { SinkRecord } from "@pulsar-connect/core";
import type { FieldValue, Point } from "./line-protocol.ts";

/** Nanoseconds per unit of each timestamp precision. */
export const NANOS_PER: Readonly<Record<Precision, bigint>> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n };
export type Precision = "ns" | "us" | "ms" | "s";

/** How records become points. */
export interface PointMapping {
  /** Top-level value field holding the point's time in `precision` units; undefined = the time of writing. */
  timestampField?: string | undefined;
  precision: Precision;
}

/** Integral JSON numbers as bigint (integer fields), the others as number (float fields). */
type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

/**
 * Parses JSON text keeping the integer/float distinction of the text: `3` is an integer, `3.0` and `3e0` floats (the
 * parsed number alone cannot tell them apart), and integers keep all their 64 bits.
 */
export function parseJsonNumbers(text: string): Json {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value === "number" && context?.source !== undefined && /^-?\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  }) as Json;
}

/** Field types declared by an Avro record schema (top level), for values decoded from Avro. */
function avroFieldTypes(definition: string | undefined): Map<string, "integer" | "float"> {
  const types = new Map<string, "integer" | "float">();
  if (definition === undefined) return types;
  try {
    const schema = JSON.parse(definition) as { fields?: Array<{ name: string; type: unknown }> };
    for (const field of schema.fields ?? []) {
      const branches = Array.isArray(field.type) ? field.type : [field.type];
      const names = branches.map((branch) =>
        typeof branch === "string" ? branch : (branch as { type?: string } | null)?.type,
      );
      if (names.some((name) => name === "int" || name === "long")) types.set(field.name, "integer");
      else if (names.some((name) => name === "float" || name === "double")) types.set(field.name, "float");
    }
  } catch {
    // A definition that is not JSON declares nothing; numbers are then typed by their value.
  }
  return types;
}

/** The record's value as a JSON-like object, or why it is not one. */
function recordObject(
  record: SinkRecord,
): { object: Record<string, Json>; avro?: Map<string, "integer" | "float"> } | string {
  const schema = record.schema;
  if (schema?.type === "AVRO") {
    const value = record.value;
    if (value === null || typeof value !== "object" || Array.isArray(value)) return "the Avro value is not a record";
    return { object: value as Record<string, Json>, avro: avroFieldTypes(schema.definition) };
  }
  if (schema?.type === "KEY_VALUE") return "KeyValue records are not supported; a point comes from one object";
  let parsed: Json;
  try {
    parsed = parseJsonNumbers(
      Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString("utf8"),
    );
  } catch {
    return "the value is not JSON";
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return "the value is not a JSON object";
  return { object: parsed };
}

/**
 * A field for a JSON or Avro value. JSON integers arrive as bigint (see parseJsonNumbers); an Avro number takes the
 * type its schema declares, or, undeclared, integer when integral.
 */
function fieldValue(value: Json, declared: "integer" | "float" | "json" | undefined): FieldValue | string {
  if (typeof value === "bigint") {
    return declared === "float" ? { type: "float", value: Number(value) } : { type: "integer", value };
  }
  if (typeof value === "number") {
    // From JSON text a number (not a bigint) was written with a fraction or an exponent: a float.
    const integral = declared === "integer" || (declared === undefined && Number.isInteger(value));
    return integral && Number.isSafeInteger(value)
      ? { type: "integer", value: BigInt(value) }
      : { type: "float", value };
  }
  if (typeof value === "boolean") return { type: "boolean", value };
  if (typeof value === "string") return { type: "string", value };
  return "is an object or array (a field holds a number, a boolean or a string)";
}

/** A point for a record, or why the record cannot be one. The time comes from `now()` unless the mapping names it. */
export function recordPoint(record: SinkRecord, mapping: PointMapping, now: () => bigint): Point | string {
  const parsed = recordObject(record);
  if (typeof parsed === "string") return parsed;
  const { object, avro } = parsed;
  const measurement = object.measurement;
  if (typeof measurement !== "string" && typeof measurement !== "number" && typeof measurement !== "bigint") {
    return "the value has no measurement (a string field named measurement)";
  }
  const tags: Array<[string, string]> = [];
  const rawTags = object.tags;
  if (rawTags !== undefined && rawTags !== null) {
    if (typeof rawTags !== "object" || Array.isArray(rawTags)) return "tags is not an object of tag names to values";
    for (const [key, value] of Object.entries(rawTags)) {
      if (value === null) continue;
      if (typeof value === "object") return `tag ${JSON.stringify(key)} is an object or array`;
      tags.push([key, String(value)]);
    }
  }
  let timestamp: bigint | undefined;
  const fields: Array<[string, FieldValue]> = [];
  for (const [key, value] of Object.entries(object)) {
    if (key === "measurement" || key === "tags") continue;
    if (key === mapping.timestampField) {
      const time = typeof value === "string" && /^-?\d+$/.test(value) ? BigInt(value) : value;
      if (typeof time === "bigint") timestamp = time * NANOS_PER[mapping.precision];
      else if (typeof time === "number" && Number.isSafeInteger(time))
        timestamp = BigInt(time) * NANOS_PER[mapping.precision];
      else return `${key} is not an integer timestamp in ${mapping.precision}`;
      continue;
    }
    if (value === null) continue;
    const field = fieldValue(value, avro === undefined ? "json" : avro.get(key));
    if (typeof field === "string") return `field ${JSON.stringify(key)} ${field}`;
    fields.push([key, field]);
  }
  if (mapping.timestampField !== undefined && timestamp === undefined) {
    return `the value has no ${mapping.timestampField} (timestampField)`;
  }
  return { measurement: String(measurement), tags, fields, timestamp: timestamp ?? now() };
}
