import { ConnectorError, type SinkRecord } from "@pulsar-connect/core";

/** CQL type codes of the native protocol (the ones the conversion cares about). */
export const CQL = {
  blob: 0x0003,
  bigint: 0x0002,
  counter: 0x0005,
  timestamp: 0x000b,
  varint: 0x000e,
  date: 0x0011,
  time: 0x0012,
} as const;

/** One column of the target table. */
export interface Column {
  name: string;
  /** Native protocol type code. */
  code: number;
  /** Part of the primary key: the row cannot be written without it. */
  key: boolean;
}

/** A row to insert: column names in statement order and their values. */
export interface Row {
  columns: string[];
  values: unknown[];
}

const decoder = new TextDecoder();

/** The record value as a string: the value when it is one, else the payload bytes as UTF-8. */
export function valueText(record: SinkRecord): string {
  return typeof record.value === "string" ? record.value : decoder.decode(record.data);
}

/** The object a structured record carries: decoded JSON/Avro, or JSON text in a string/bytes payload. */
export function recordObject(record: SinkRecord): Record<string, unknown> {
  let value: unknown = record.value;
  if (typeof value === "string" || value instanceof Uint8Array) {
    const text = typeof value === "string" ? value : decoder.decode(value);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ConnectorError("INVALID_RECORD", "Record value is not a JSON object", {
        retryable: false,
        cause: error,
      });
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ConnectorError("INVALID_RECORD", "Record value is not an object with fields", { retryable: false });
  }
  return value as Record<string, unknown>;
}

/** Converts a JSON-ish value into what the driver encodes for a column of type `code`. */
export function toColumnValue(value: unknown, code: number): unknown {
  if (value === null || value === undefined) return null;
  switch (code) {
    case CQL.bigint:
    case CQL.counter:
    case CQL.varint:
      if (typeof value === "number" || typeof value === "string") return BigInt(value);
      return value;
    case CQL.timestamp:
      if (typeof value === "number" || typeof value === "string") return new Date(value);
      return value;
    case CQL.date:
      if (typeof value === "number") return new Date(value);
      return value;
    case CQL.blob:
      if (typeof value === "string") return Buffer.from(value, "base64");
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return value;
    default:
      return value;
  }
}

/**
 * Maps the fields of `object` onto the table's columns (exact name first, then case-insensitively, as unquoted
 * CQL names are lower case). Fields without a column are ignored; every primary key column must be present.
 */
export function structuredRow(object: Record<string, unknown>, columns: readonly Column[]): Row {
  const lower = new Map<string, string>();
  for (const field of Object.keys(object)) lower.set(field.toLowerCase(), field);
  const row: Row = { columns: [], values: [] };
  const missing: string[] = [];
  for (const column of columns) {
    const field = column.name in object ? column.name : lower.get(column.name.toLowerCase());
    if (field === undefined || object[field] === undefined) {
      if (column.key) missing.push(column.name);
      continue;
    }
    try {
      row.values.push(toColumnValue(object[field], column.code));
    } catch (error) {
      throw new ConnectorError("INVALID_RECORD", `Field ${field} does not fit column ${column.name}`, {
        retryable: false,
        cause: error,
      });
    }
    row.columns.push(column.name);
  }
  if (missing.length > 0) {
    throw new ConnectorError("INVALID_RECORD", `Record lacks primary key column(s) ${missing.join(", ")}`, {
      retryable: false,
    });
  }
  return row;
}

/** Quotes a CQL identifier. */
export function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** The INSERT statement for a set of columns. */
export function insertStatement(keyspace: string, table: string, columns: readonly string[]): string {
  return `INSERT INTO ${quote(keyspace)}.${quote(table)} (${columns.map(quote).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
}
