import { createRequire } from "node:module";
import { ConnectorError, type KeyValueSchema, type RecordSchema, type ValueSchema } from "@pulsar-connect/core/host";
import type avro from "avsc";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A record on the wire: the payload, and the message key bytes of a KeyValue record with SEPARATED encoding. */
export interface EncodedRecord {
  payload: Uint8Array;
  /** Undefined when the message has no key of its schema's making (no KeyValue schema, or a null key). */
  keyBytes?: Uint8Array;
}

/**
 * Encodes a source record value. With a KeyValue schema the value must be `{ key, value }`: SEPARATED puts the
 * encoded key in the message key and the encoded value in the payload; INLINE writes `[key length][key][value
 * length][value]` (lengths int32 big-endian, -1 for a null part), as the Java client does.
 */
export function encodeRecord(value: unknown, schema?: RecordSchema): EncodedRecord {
  if (schema?.type !== "KEY_VALUE") return { payload: encodeValue(value, schema) };
  for (const [part, partSchema] of [
    ["key", schema.key],
    ["value", schema.value],
  ] as const) {
    // The broker registers JSON and AVRO parts of a KeyValue schema only with their record definition.
    if ((partSchema.type === "JSON" || partSchema.type === "AVRO") && !partSchema.definition) {
      throw invalidKeyValue(`the ${part} schema of a KeyValue record is ${partSchema.type} without a definition`);
    }
  }
  const pair = keyValueOf(value);
  const key = pair.key === undefined || pair.key === null ? undefined : encodeValue(pair.key, schema.key);
  const payload = pair.value === undefined || pair.value === null ? undefined : encodeValue(pair.value, schema.value);
  if (schema.encoding === "SEPARATED") {
    if (payload === undefined) throw invalidKeyValue("a SEPARATED KeyValue record needs a value");
    return key === undefined ? { payload } : { payload, keyBytes: key };
  }
  return { payload: Buffer.concat([lengthPrefixed(key), lengthPrefixed(payload)]) };
}

function keyValueOf(value: unknown): { key: unknown; value: unknown } {
  if (typeof value !== "object" || value === null || !("key" in value || "value" in value)) {
    throw invalidKeyValue("a record with a KeyValue schema needs a value of the form { key, value }");
  }
  return value as { key: unknown; value: unknown };
}

function invalidKeyValue(message: string): ConnectorError {
  return new ConnectorError("INVALID_RECORD", message, { retryable: false });
}

function lengthPrefixed(part: Uint8Array | undefined): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(part === undefined ? -1 : part.length);
  return part === undefined ? head : Buffer.concat([head, part]);
}

/** Bytes to send for a value: bytes as they are, strings as UTF-8, AVRO by its definition, everything else as JSON. */
export function encodeValue(value: unknown, schema?: RecordSchema): Uint8Array {
  if (schema?.type === "KEY_VALUE") return encodeRecord(value, schema).payload;
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  if (schema?.type === "AVRO" && schema.definition) {
    return avroType(schema.definition).toBuffer(value);
  }
  return encoder.encode(JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v)));
}

// The Avro library (several MB resident) loads with the first Avro schema, not with every worker and instance.
let avroLibrary: typeof avro | undefined;
const avroTypes = new Map<string, avro.Type>();
function avroType(definition: string): avro.Type {
  let type = avroTypes.get(definition);
  if (!type) {
    avroLibrary ??= createRequire(import.meta.url)("avsc") as typeof avro;
    type = avroLibrary.Type.forSchema(JSON.parse(definition) as avro.Schema);
    avroTypes.set(definition, type);
  }
  return type;
}

/**
 * Decodes a message payload by the topic's schema. Without a schema, a payload that parses as a JSON object or
 * array is handed over parsed (JSON is what most producers send without declaring it); anything else stays bytes.
 */
export function decodeValue(data: Uint8Array, schema?: ValueSchema): unknown {
  switch (schema?.type) {
    case "STRING":
      return decoder.decode(data);
    case "JSON":
      return JSON.parse(decoder.decode(data));
    case "AVRO":
      if (schema.definition) return avroType(schema.definition).fromBuffer(Buffer.from(data));
      return data;
    case "BYTES":
      return data;
    default: {
      const first = data.find((byte) => byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09);
      if (first === 0x7b || first === 0x5b) {
        try {
          return JSON.parse(decoder.decode(data));
        } catch {
          return data;
        }
      }
      return data;
    }
  }
}

/**
 * Decodes a message by a KeyValue schema into `{ key, value }`: SEPARATED takes the key from the message key bytes
 * (null without a key), INLINE from the payload.
 */
export function decodeKeyValue(
  data: Uint8Array,
  keyBytes: Uint8Array | undefined,
  schema: KeyValueSchema,
): { key: unknown; value: unknown } {
  if (schema.encoding === "SEPARATED") {
    return {
      key: keyBytes === undefined ? null : decodeValue(keyBytes, schema.key),
      value: decodeValue(data, schema.value),
    };
  }
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const keyPart = inlinePart(bytes, 0);
  const valuePart = inlinePart(bytes, keyPart.end);
  return {
    key: keyPart.bytes === undefined ? null : decodeValue(keyPart.bytes, schema.key),
    value: valuePart.bytes === undefined ? null : decodeValue(valuePart.bytes, schema.value),
  };
}

function inlinePart(bytes: Buffer, offset: number): { bytes: Uint8Array | undefined; end: number } {
  if (bytes.length < offset + 4) throw new Error("KeyValue payload ends inside a length prefix");
  const length = bytes.readInt32BE(offset);
  if (length < 0) return { bytes: undefined, end: offset + 4 };
  if (bytes.length < offset + 4 + length) throw new Error("KeyValue payload is shorter than its length prefix");
  return { bytes: bytes.subarray(offset + 4, offset + 4 + length), end: offset + 4 + length };
}
