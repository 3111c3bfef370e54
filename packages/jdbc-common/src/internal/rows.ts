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
  const shapes = new ShapeCache(context, declared);
  for (let position = 0; position < records.length; position++) {
    const record = records[position] as SinkRecord;
    const index = indexOffset + position;
    try {
      rows.push(shapes.row(record, index) ?? prepareRow(record, index, context, declared));
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      problems.push({ index, message: error.message, unknownField: error.unknownField });
    }
  }
  return { rows, problems };
}

/**
 * What every record with the same field names (in the same order) and the same mutation becomes: its columns, types
 * and signature, and where each column's value is among the record's fields. Worked out once per batch and layout
 * instead of once per record.
 */
interface RowShape {
  mutation: Mutation;
  fields: readonly string[];
  /** For each of `columns`, the index of its field. */
  valueFields: readonly number[];
  valueColumns: readonly TableColumn[];
  /** For each key column, the index of its field (UPSERT, UPDATE, DELETE). */
  keyFields: readonly number[];
  signature: string;
  columns: string[];
  types: string[];
  updates: string[];
  keys: string[];
}

/**
 * Rows of records whose value is an object of a layout seen before in the batch. Answers undefined for anything
 * else (an ACTION property other than the configured mode, a key taken from the message key, a field without a
 * column, a missing or null key...), which {@link prepareRow} then handles or refuses with its message.
 */
class ShapeCache {
  private readonly context: RowContext;
  private readonly declared: ReadonlySet<string> | undefined;
  private last: RowShape | undefined;
  private readonly byLayout = new Map<string, RowShape | null>();

  constructor(context: RowContext, declared: ReadonlySet<string> | undefined) {
    this.context = context;
    this.declared = declared;
  }

  row(record: SinkRecord, index: number): PreparedRow | undefined {
    const value = record.value;
    if (value === null || typeof value !== "object" || value instanceof Uint8Array || Array.isArray(value)) return;
    const action = record.properties.ACTION;
    if (action !== undefined && action.trim() !== "") return;
    const fields = value as Record<string, unknown>;
    const names = Object.keys(fields);
    const shape = this.shapeOf(names);
    if (shape === undefined) return;
    const values = Object.values(fields);
    const { dialect } = this.context;
    const keyColumns = this.context.keyColumns;
    let keyValues: unknown[] = [];
    if (shape.mutation !== "INSERT") {
      keyValues = new Array(keyColumns.length);
      for (let i = 0; i < keyColumns.length; i++) {
        const key = values[shape.keyFields[i] as number];
        if (key === null || key === undefined) return;
        keyValues[i] = dialect.toParameter(key, keyColumns[i]);
      }
    }
    const width = shape.valueFields.length;
    const rowValues = new Array<unknown>(width);
    for (let i = 0; i < width; i++) {
      rowValues[i] = dialect.toParameter(values[shape.valueFields[i] as number], shape.valueColumns[i]);
    }
    return {
      index,
      mutation: shape.mutation,
      signature: shape.signature,
      columns: shape.columns,
      values: rowValues,
      types: shape.types,
      updates: shape.updates,
      keys: shape.keys,
      keyValues,
    };
  }

  private shapeOf(names: readonly string[]): RowShape | undefined {
    const last = this.last;
    if (last !== undefined && sameNames(last.fields, names)) return last;
    // JSON keeps names apart that a separator would join into the same key ("a\u0000b" vs ["a", "b"]).
    const layout = JSON.stringify(names);
    let shape = this.byLayout.get(layout);
    if (shape === undefined) {
      shape = compileShape(names, this.context, this.declared);
      this.byLayout.set(layout, shape);
    }
    if (shape === null) return undefined;
    this.last = shape;
    return shape;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The shape of records with these field names under the configured mode; null when they need {@link prepareRow}. */
function compileShape(
  names: readonly string[],
  context: RowContext,
  declared: ReadonlySet<string> | undefined,
): RowShape | null {
  const { config, table } = context;
  const mutation = config.insertMode;
  // The same column lookups as prepareRow: a later field mapping to the same column wins.
  const fieldOf = new Map<TableColumn, number>();
  for (let i = 0; i < names.length; i++) {
    const column = table.column(names[i] as string);
    if (column === undefined) {
      if (declared !== undefined) continue;
      return null;
    }
    if (declared !== undefined && !declared.has(column.name)) continue;
    fieldOf.set(column, i);
  }
  const keyColumns = context.keyColumns;
  const keyFields: number[] = [];
  if (mutation !== "INSERT") {
    if (keyColumns.length === 0) return null;
    for (const column of keyColumns) {
      const field = fieldOf.get(column);
      if (field === undefined) return null;
      keyFields.push(field);
    }
  }
  const ordered = [...fieldOf.keys()].sort((a, b) => table.ordinalOf(a) - table.ordinalOf(b));
  const settable = (column: TableColumn) =>
    !keyColumns.includes(column) && (context.nonKeyColumns === undefined || context.nonKeyColumns.includes(column));
  let valueColumns: TableColumn[];
  let updates: TableColumn[] = [];
  if (mutation === "UPDATE") valueColumns = ordered.filter(settable);
  else valueColumns = ordered;
  if (mutation === "UPSERT") updates = ordered.filter(settable);
  if (valueColumns.length === 0 && mutation !== "UPSERT") return null;
  const quote = (column: TableColumn) => table.quoted(column);
  const columns = valueColumns.map(quote);
  const quotedUpdates = updates.map(quote);
  return {
    mutation,
    fields: [...names],
    valueFields: valueColumns.map((column) => fieldOf.get(column) as number),
    valueColumns,
    keyFields,
    signature: `${mutation}|${columns.join(",")}|${quotedUpdates.join(",")}`,
    columns,
    types: valueColumns.map((column) => column.type),
    updates: quotedUpdates,
    keys: keyColumns.map(quote),
  };
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
