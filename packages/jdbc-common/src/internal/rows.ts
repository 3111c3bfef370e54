import type { SinkRecord } from "@pulsar-connect/core";
import type { JdbcSinkConfig, Mutation } from "../config.ts";
import type { SqlDialect, TableColumn } from "../dialect.ts";
import type { Table } from "./table.ts";

/** A record turned into the values of one statement row. */
export interface PreparedRow {
  /** Index of the record in the batch given to `write`. */
  index: number;
  mutation: Mutation;
  /** Rows with the same signature can share a multi-row statement. */
  signature: string;
  /** INSERT/UPSERT: inserted columns; UPDATE: SET columns; DELETE: none. Quoted. */
  columns: string[];
  /** Bind values aligned with `columns`. */
  values: unknown[];
  /** Database types aligned with `columns`. */
  types: string[];
  /** UPSERT: columns updated on conflict. Quoted. */
  updates: string[];
  /** Key columns (quoted) and their values: WHERE of UPDATE/DELETE, duplicate detection of UPSERT. */
  keys: string[];
  keyValues: unknown[];
}

/** Why a record cannot be written; `unknownField` marks failures a fresh table description might cure. */
export interface RowProblem {
  index: number;
  message: string;
  unknownField: boolean;
}

const MUTATIONS: ReadonlySet<string> = new Set(["INSERT", "UPSERT", "UPDATE", "DELETE"]);

/** What the row builder needs to know besides the record. */
export interface RowContext {
  config: JdbcSinkConfig;
  dialect: SqlDialect;
  table: Table;
  /** Resolved key columns (configured `key`, else the primary key). */
  keyColumns: readonly TableColumn[];
  /** Configured `nonKey` columns, undefined when not configured. */
  nonKeyColumns: readonly TableColumn[] | undefined;
}

class Problem extends Error {
  readonly unknownField: boolean;
  constructor(message: string, unknownField = false) {
    super(message);
    this.unknownField = unknownField;
  }
}

/** Turns records into statement rows; records that cannot be written become problems. */
export function prepareRows(
  records: readonly SinkRecord[],
  context: RowContext,
  indexOffset = 0,
): { rows: PreparedRow[]; problems: RowProblem[] } {
  const rows: PreparedRow[] = [];
  const problems: RowProblem[] = [];
  const declared =
    context.config.excludeNonDeclaredFields === true
      ? new Set([...context.keyColumns, ...(context.nonKeyColumns ?? [])].map((column) => column.name))
      : undefined;
  records.forEach((record, position) => {
    const index = indexOffset + position;
    try {
      rows.push(prepareRow(record, index, context, declared));
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      problems.push({ index, message: error.message, unknownField: error.unknownField });
    }
  });
  return { rows, problems };
}

function prepareRow(
  record: SinkRecord,
  index: number,
  context: RowContext,
  declared: ReadonlySet<string> | undefined,
): PreparedRow {
  const { config, dialect, table } = context;
  const fields = recordFields(record.value);
  const action = record.properties.ACTION?.trim().toUpperCase();
  let mutation: Mutation;
  if (action !== undefined && action !== "") {
    if (!MUTATIONS.has(action)) {
      throw new Problem(`ACTION property "${action}" is not one of INSERT, UPSERT, UPDATE, DELETE`);
    }
    mutation = action as Mutation;
  } else if (fields === null) {
    if (config.nullValueAction !== "DELETE") {
      throw new Problem("the record has a null value and nullValueAction is FAIL");
    }
    mutation = "DELETE";
  } else {
    mutation = config.insertMode;
  }
  if (fields === null && mutation !== "DELETE") {
    throw new Problem(`the record has a null value, which cannot be written with ${mutation}`);
  }

  const present = new Map<TableColumn, unknown>();
  for (const [field, value] of Object.entries(fields ?? {})) {
    const column = table.column(field);
    if (column === undefined) {
      if (declared !== undefined) continue;
      throw new Problem(`field "${field}" has no column in table ${table.displayName()}`, true);
    }
    if (declared !== undefined && !declared.has(column.name)) continue;
    present.set(column, value);
  }

  const keyColumns = context.keyColumns;
  if (mutation !== "INSERT") {
    if (keyColumns.length === 0) {
      throw new Problem(`${mutation} needs key columns: set "key" or give table ${table.displayName()} a primary key`);
    }
    fillKeysFromMessageKey(record.key, keyColumns, present, table);
    const missing = keyColumns.filter((column) => present.get(column) === undefined || present.get(column) === null);
    if (missing.length > 0) {
      throw new Problem(`missing key field(s) ${missing.map((column) => column.name).join(", ")} for ${mutation}`);
    }
  }

  const quote = (column: TableColumn) => table.quoted(column);
  const keys = keyColumns.map(quote);
  const keyValues =
    mutation === "INSERT" ? [] : keyColumns.map((column) => dialect.toParameter(present.get(column), column));
  const isKey = (column: TableColumn) => keyColumns.includes(column);
  const settable = (column: TableColumn) =>
    !isKey(column) && (context.nonKeyColumns === undefined || context.nonKeyColumns.includes(column));

  const ordered = [...present.keys()].sort((a, b) => table.ordinalOf(a) - table.ordinalOf(b));
  let columns: TableColumn[];
  let updates: TableColumn[] = [];
  switch (mutation) {
    case "INSERT":
      columns = ordered;
      if (columns.length === 0) throw new Problem("the record has no field to insert");
      break;
    case "UPSERT":
      columns = ordered;
      updates = ordered.filter(settable);
      break;
    case "UPDATE":
      columns = ordered.filter(settable);
      if (columns.length === 0) throw new Problem("the record has no non-key field to update");
      break;
    case "DELETE":
      columns = [];
      break;
  }
  const quotedColumns = columns.map(quote);
  const quotedUpdates = updates.map(quote);
  return {
    index,
    mutation,
    signature: `${mutation}|${quotedColumns.join(",")}|${quotedUpdates.join(",")}`,
    columns: quotedColumns,
    values: columns.map((column) => dialect.toParameter(present.get(column), column)),
    types: columns.map((column) => column.type),
    updates: quotedUpdates,
    keys,
    keyValues,
  };
}

/** Key columns absent from the value come from the message key: a JSON object, or the value of a single key. */
function fillKeysFromMessageKey(
  messageKey: string | undefined,
  keyColumns: readonly TableColumn[],
  present: Map<TableColumn, unknown>,
  table: Table,
): void {
  if (messageKey === undefined || keyColumns.every((column) => present.has(column))) return;
  const parsed = messageKey.trimStart().startsWith("{") ? parseJsonObject(messageKey) : undefined;
  if (parsed !== undefined) {
    for (const [field, value] of Object.entries(parsed)) {
      const column = table.column(field);
      if (column !== undefined && keyColumns.includes(column) && !present.has(column)) present.set(column, value);
    }
  } else if (keyColumns.length === 1 && keyColumns[0] !== undefined && !present.has(keyColumns[0])) {
    present.set(keyColumns[0], messageKey);
  }
}

const decoder = new TextDecoder();

/** The fields of a record value; null for a null or empty value. */
export function recordFields(value: unknown): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) {
    if (value.length === 0) return null;
    return recordFields(decoder.decode(value));
  }
  if (typeof value === "string") {
    if (value.trim() === "") return null;
    const parsed = value.trimStart().startsWith("{") ? parseJsonObject(value) : undefined;
    if (parsed === undefined)
      throw new Problem("the value is not a JSON object; primitive values cannot be mapped to columns");
    return parsed;
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new Problem(`the value is a ${Array.isArray(value) ? "array" : typeof value}; only objects map to columns`);
  }
  return value as Record<string, unknown>;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
