import zlib from "node:zlib";
import type { SinkRecord } from "@pulsar-connect/core";
import { type BasicType, type ColumnSource, parquetWriteBuffer } from "hyparquet-writer";
import { zstdCompress } from "../codecs.ts";
import {
  jsonSafe,
  METADATA_FIELD,
  type MetadataOptions,
  metadataWithNulls,
  type ObjectFormat,
  RecordRefused,
  recordMetadata,
} from "./format.ts";
import { type AvroRecordSchema, recordSchema, valueSchemaText } from "./schema.ts";

/** Upstream's `parquetCodec` values this sink writes. */
export type ParquetCodec = "none" | "snappy" | "gzip" | "zstd" | "brotli";

const CODECS = { none: "UNCOMPRESSED", snappy: "SNAPPY", gzip: "GZIP", zstd: "ZSTD", brotli: "BROTLI" } as const;

const COMPRESSORS = {
  GZIP: (input: Uint8Array) => zlib.gzipSync(input),
  ZSTD: (input: Uint8Array) => zstdCompress(input),
  BROTLI: (input: Uint8Array) => zlib.brotliCompressSync(input),
};

/** A Parquet column kind: a physical type, or JSON text for nested values (records, arrays, maps, fixed). */
type ColumnKind = Exclude<BasicType, "UUID" | "FLOAT16" | "GEOMETRY" | "GEOGRAPHY" | "VARIANT">;

interface Column {
  name: string;
  kind: ColumnKind;
}

/** The column kind of an Avro field type; a union with null is the nullable form of its other branch. */
function columnKind(type: unknown): ColumnKind {
  if (Array.isArray(type)) {
    const branches = type.filter((branch) => branch !== "null");
    return branches.length === 1 ? columnKind(branches[0]) : "JSON";
  }
  if (typeof type === "object" && type !== null) {
    const complex = type as { type?: unknown; logicalType?: unknown };
    if (complex.type === "enum") return "STRING";
    if (complex.type === "long" && complex.logicalType === "timestamp-millis") return "TIMESTAMP";
    if (typeof complex.type === "string" && complex.type !== "record" && complex.type !== "fixed") {
      return complex.type === "array" || complex.type === "map" ? "JSON" : columnKind(complex.type);
    }
    return "JSON";
  }
  switch (type) {
    case "boolean":
      return "BOOLEAN";
    case "int":
      return "INT32";
    case "long":
      return "INT64";
    case "float":
      return "FLOAT";
    case "double":
      return "DOUBLE";
    case "string":
      return "STRING";
    case "bytes":
      return "BYTE_ARRAY";
    default:
      return "JSON";
  }
}

const schemaColumns = new Map<string, Column[]>();

function columnsOf(schemaText: string, schema: AvroRecordSchema): Column[] {
  let columns = schemaColumns.get(schemaText);
  if (!columns) {
    columns = schema.fields.map((field) => ({ name: field.name, kind: columnKind(field.type) }));
    schemaColumns.set(schemaText, columns);
  }
  return columns;
}

function refuse(column: Column, value: unknown): never {
  throw new RecordRefused(`field ${column.name}: ${JSON.stringify(String(value))} is not a ${column.kind} value`);
}

/** One cell, converted to what the Parquet writer takes for the column; refuses a value of another type. */
function cell(column: Column, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "BOOLEAN":
      return typeof value === "boolean" ? value : refuse(column, value);
    case "INT32":
      return Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31 ? value : refuse(column, value);
    case "INT64":
      if (typeof value === "bigint") return value;
      return Number.isInteger(value) ? BigInt(value as number) : refuse(column, value);
    case "FLOAT":
    case "DOUBLE":
      return typeof value === "number" ? value : refuse(column, value);
    case "STRING":
      return typeof value === "string" ? value : refuse(column, value);
    case "BYTE_ARRAY":
      return value instanceof Uint8Array ? value : refuse(column, value);
    case "TIMESTAMP":
      return typeof value === "number" ? new Date(value) : value instanceof Date ? value : refuse(column, value);
    default:
      // The writer serialises JSON columns itself; hand it a value JSON can hold.
      return JSON.parse(JSON.stringify(value, jsonSafe));
  }
}

export interface ParquetRow {
  schema: string;
  cells: unknown[];
}

/** Parquet files with one column per top-level field of the topic's schema (nested values as JSON columns). */
export function parquetFormat(options: MetadataOptions & { codec: ParquetCodec }): ObjectFormat<ParquetRow> {
  return {
    extension: ".parquet",
    row(record: SinkRecord) {
      const text = valueSchemaText(record, "parquet");
      const schema = recordSchema(text, options.withMetadata);
      const key = `${options.withMetadata}:${text}`;
      const value = record.value;
      if (value === null || typeof value !== "object" || value instanceof Uint8Array) {
        throw new RecordRefused("the value is not a record");
      }
      const fields = value as Record<string, unknown>;
      const cells = columnsOf(key, schema).map((column) =>
        column.name === METADATA_FIELD && options.withMetadata
          ? cell(column, metadataWithNulls(recordMetadata(record, options)))
          : cell(column, fields[column.name]),
      );
      return { schema: key, cells };
    },
    groupKey: (row) => row.schema,
    encode(rows) {
      const first = rows[0];
      if (!first) return new Uint8Array(0);
      const columns = schemaColumns.get(first.schema) ?? [];
      const columnData = columns.map(
        (column, index): ColumnSource => ({
          name: column.name,
          type: column.kind,
          data: rows.map((row) => row.cells[index]) as ColumnSource["data"],
        }),
      );
      return new Uint8Array(
        parquetWriteBuffer({
          columnData,
          codec: CODECS[options.codec],
          compressors: COMPRESSORS,
          createdBy: "pulsar-connect sink-cloud-storage",
        }),
      );
    },
  };
}
