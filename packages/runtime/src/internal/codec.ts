import type { RecordSchema, SchemaType } from "@pulsar-connect/core";
import avro from "avsc";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes to send for a source record value: bytes as they are, strings as UTF-8, everything else as JSON. */
export function encodeValue(value: unknown, schema?: RecordSchema): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  if (schema?.type === "AVRO" && schema.definition) {
    return avroType(schema.definition).toBuffer(value);
  }
  return encoder.encode(JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** The schema type a value is sent with when the record names none. */
export function schemaTypeOf(value: unknown, schema?: RecordSchema): SchemaType {
  if (schema) return schema.type;
  if (value instanceof Uint8Array) return "BYTES";
  if (typeof value === "string") return "STRING";
  return "JSON";
}

const avroTypes = new Map<string, avro.Type>();
function avroType(definition: string): avro.Type {
  let type = avroTypes.get(definition);
  if (!type) {
    type = avro.Type.forSchema(JSON.parse(definition) as avro.Schema);
    avroTypes.set(definition, type);
  }
  return type;
}

/**
 * Decodes a message payload by the topic's schema. Without a schema, a payload that parses as a JSON object or
 * array is handed over parsed (JSON is what most producers send without declaring it); anything else stays bytes.
 */
export function decodeValue(data: Uint8Array, schema?: RecordSchema): unknown {
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
