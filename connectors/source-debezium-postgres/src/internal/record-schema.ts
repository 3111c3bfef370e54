/**
 * The topic schema of change events, as upstream's Debezium source registers it: KeyValue<JSON, JSON> with SEPARATED
 * encoding, each part described by the Avro record Debezium's converters derive (`<topic>.Key`, `<topic>.Envelope`
 * with its `Value` rows and the connector's `Source` block).
 */
import type { KeyValueSchema } from "@pulsar-connect/core";
import type { RelationColumn } from "./pgoutput.ts";
import { avroTypeOf, type ValueOptions } from "./values.ts";

/** An Avro name: letters, digits and underscores, not starting with a digit (what schema registries accept). */
function avroName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** An Avro namespace: dot-separated Avro names. */
function avroNamespace(topic: string): string {
  return topic.split(".").map(avroName).join(".");
}

const optional = (type: unknown) => ({ type: ["null", type], default: null });

const SOURCE_BLOCK = {
  type: "record",
  name: "Source",
  namespace: "io.debezium.connector.postgresql",
  fields: [
    { name: "version", type: "string" },
    { name: "connector", type: "string" },
    { name: "name", type: "string" },
    { name: "ts_ms", type: "long" },
    { name: "snapshot", ...optional("string") },
    { name: "db", type: "string" },
    { name: "sequence", ...optional("string") },
    { name: "schema", type: "string" },
    { name: "table", type: "string" },
    { name: "txId", ...optional("long") },
    { name: "lsn", ...optional("long") },
    { name: "xmin", ...optional("long") },
  ],
};

const TRANSACTION_BLOCK = {
  type: "record",
  name: "block",
  namespace: "event",
  fields: [
    { name: "id", type: "string" },
    { name: "total_order", type: "long" },
    { name: "data_collection_order", type: "long" },
  ],
};

/** The schema of a table's change events. A table without a key gets a key record without fields (and null keys). */
export function changeEventSchema(
  topic: string,
  columns: readonly RelationColumn[],
  keyColumns: readonly string[],
  values: ValueOptions,
): KeyValueSchema {
  const namespace = avroNamespace(topic);
  const typeOf = (column: RelationColumn) => avroTypeOf(column.typeOid, column.typeModifier, values);
  const keyFields = keyColumns.map((name) => {
    const column = columns.find((candidate) => candidate.name === name);
    return { name: avroName(name), type: column ? typeOf(column) : "string" };
  });
  const row = {
    type: "record",
    name: "Value",
    fields: columns.map((column) => ({ name: avroName(column.name), ...optional(typeOf(column)) })),
  };
  const envelope = {
    type: "record",
    name: "Envelope",
    namespace,
    fields: [
      { name: "before", ...optional(row) },
      { name: "after", ...optional("Value") },
      { name: "source", type: SOURCE_BLOCK },
      { name: "op", type: "string" },
      { name: "ts_ms", ...optional("long") },
      { name: "transaction", ...optional(TRANSACTION_BLOCK) },
    ],
  };
  return {
    type: "KEY_VALUE",
    key: { type: "JSON", definition: JSON.stringify({ type: "record", name: "Key", namespace, fields: keyFields }) },
    value: { type: "JSON", definition: JSON.stringify(envelope) },
    encoding: "SEPARATED",
  };
}

/** The schema of heartbeat records: Debezium's `ServerNameKey` and `Heartbeat` records. */
export const HEARTBEAT_SCHEMA: KeyValueSchema = {
  type: "KEY_VALUE",
  key: {
    type: "JSON",
    definition: JSON.stringify({
      type: "record",
      name: "ServerNameKey",
      namespace: "io.debezium.connector.common",
      fields: [{ name: "serverName", type: "string" }],
    }),
  },
  value: {
    type: "JSON",
    definition: JSON.stringify({
      type: "record",
      name: "Heartbeat",
      namespace: "io.debezium.connector.common",
      fields: [{ name: "ts_ms", type: "long" }],
    }),
  },
  encoding: "SEPARATED",
};
