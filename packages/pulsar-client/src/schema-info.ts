import { PulsarClientError } from "./errors.ts";
import type { SchemaInfoPb } from "./internal/schema.ts";

export type SchemaType =
  | "NONE"
  | "STRING"
  | "JSON"
  | "PROTOBUF"
  | "AVRO"
  | "BOOLEAN"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FLOAT"
  | "DOUBLE"
  | "DATE"
  | "TIME"
  | "TIMESTAMP"
  | "KEY_VALUE"
  | "INSTANT"
  | "LOCAL_DATE"
  | "LOCAL_TIME"
  | "LOCAL_DATE_TIME"
  | "PROTOBUF_NATIVE";

const TYPES: SchemaType[] = [
  "NONE",
  "STRING",
  "JSON",
  "PROTOBUF",
  "AVRO",
  "BOOLEAN",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FLOAT",
  "DOUBLE",
  "DATE",
  "TIME",
  "TIMESTAMP",
  "KEY_VALUE",
  "INSTANT",
  "LOCAL_DATE",
  "LOCAL_TIME",
  "LOCAL_DATE_TIME",
  "PROTOBUF_NATIVE",
];

/** Schema of a topic. `type: "BYTES"` means no schema (what the broker reports as an empty schema). */
export interface SchemaInfo {
  type: SchemaType | "BYTES";
  name?: string;
  /** Schema definition: for JSON/AVRO the Avro-style record definition (object or JSON text). */
  schema?: string | Uint8Array | Record<string, unknown>;
  properties?: Record<string, string>;
}

/** SchemaInfo returned by the broker. */
export interface TopicSchema {
  type: SchemaType | "BYTES";
  name: string;
  schema: Buffer;
  properties: Record<string, string>;
  version: Buffer | undefined;
}

/** @internal Wire form, or undefined for BYTES (no schema). */
export function schemaToPb(info: SchemaInfo | undefined): SchemaInfoPb | undefined {
  if (!info || info.type === "BYTES") return undefined;
  const code = TYPES.indexOf(info.type);
  if (code < 0) throw new PulsarClientError("INVALID_CONFIG", `unknown schema type ${String(info.type)}`);
  let data: Uint8Array;
  if (info.schema === undefined) data = new Uint8Array(0);
  else if (typeof info.schema === "string") data = Buffer.from(info.schema, "utf8");
  else if (info.schema instanceof Uint8Array) data = info.schema;
  else data = Buffer.from(JSON.stringify(info.schema), "utf8");
  return {
    name: info.name ?? "",
    type: code,
    schemaData: data,
    properties: Object.entries(info.properties ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** @internal */
export function schemaFromPb(pb: SchemaInfoPb | undefined, version: Uint8Array | undefined): TopicSchema {
  const type = pb?.type === undefined ? "BYTES" : (TYPES[pb.type] ?? "NONE");
  return {
    type: type === "NONE" ? "BYTES" : type,
    name: pb?.name ?? "",
    schema: Buffer.from(pb?.schemaData ?? new Uint8Array(0)),
    properties: Object.fromEntries((pb?.properties ?? []).map((kv) => [kv.key ?? "", kv.value ?? ""])),
    version: version ? Buffer.from(version) : undefined,
  };
}

/** How a KeyValue schema lays out its key: INLINE in the payload, SEPARATED in the message key. */
export type KeyValueEncoding = "INLINE" | "SEPARATED";

function definitionBytes(schema: SchemaInfo["schema"]): Buffer {
  if (schema === undefined) return Buffer.alloc(0);
  if (typeof schema === "string") return Buffer.from(schema, "utf8");
  if (schema instanceof Uint8Array) return Buffer.from(schema);
  return Buffer.from(JSON.stringify(schema), "utf8");
}

function lengthPrefixed(data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(data.length);
  return Buffer.concat([head, data]);
}

/**
 * The KeyValue schema of a key schema and a value schema, laid out as the Java client's `Schema.KeyValue(key, value,
 * encoding)` registers it: both definitions length-prefixed in the schema data, their names, types and properties
 * and the encoding in the properties. With SEPARATED, send the encoded key as `keyBytes` and the encoded value as
 * `value`; with INLINE, send `[key length][key][value length][value]` as `value`.
 */
export function keyValueSchema(key: SchemaInfo, value: SchemaInfo, encoding: KeyValueEncoding = "INLINE"): SchemaInfo {
  if (encoding !== "INLINE" && encoding !== "SEPARATED") {
    throw new PulsarClientError("INVALID_CONFIG", `unknown KeyValue encoding ${String(encoding)}`);
  }
  const part = (prefix: string, info: SchemaInfo): Record<string, string> => ({
    [`${prefix}.schema.name`]: info.name ?? "",
    [`${prefix}.schema.type`]: info.type,
    [`${prefix}.schema.properties`]: JSON.stringify(info.properties ?? {}),
  });
  return {
    type: "KEY_VALUE",
    name: "KeyValue",
    schema: Buffer.concat([lengthPrefixed(definitionBytes(key.schema)), lengthPrefixed(definitionBytes(value.schema))]),
    properties: { ...part("key", key), ...part("value", value), "kv.encoding.type": encoding },
  };
}
