/**
 * Debezium change events: the value `{before, after, source, op, ts_ms, transaction}` and the key (the primary key
 * columns) that Debezium's PostgreSQL connector writes, as JSON, so consumers written for it keep working.
 */
import type { PostgresCdcConfig } from "../definition.ts";
import { splitList } from "./lists.ts";
import type { Lsn } from "./lsn.ts";
import type { RelationColumn, TupleValue } from "./pgoutput.ts";
import { convertValue, type ValueOptions } from "./values.ts";

/** Version reported in `source.version`. */
export const CONNECTOR_VERSION = "2.7.0.Final-compatible";

export type Operation = "r" | "c" | "u" | "d" | "t";

export interface SourceInfo {
  db: string;
  schema: string;
  table: string;
  /** Commit (or snapshot) time, epoch ms. */
  tsMs: number;
  txId: number | null;
  lsn: Lsn;
  lastCommitLsn: Lsn | null;
  snapshot: "true" | "false" | "last";
}

export interface EventSettings {
  serverName: string;
  values: ValueOptions;
  placeholder: string;
}

export function eventSettings(config: PostgresCdcConfig): EventSettings {
  return {
    serverName: serverName(config),
    values: {
      decimal: config["decimal.handling.mode"],
      time: config["time.precision.mode"],
      binary: config["binary.handling.mode"],
    },
    placeholder: config["unavailable.value.placeholder"],
  };
}

/** topic.prefix, or the older database.server.name. */
export function serverName(config: PostgresCdcConfig): string {
  return (config["topic.prefix"] ?? config["database.server.name"]) as string;
}

/** Debezium's topic of a table: `<topic.prefix>.<schema>.<table>`. */
export function tableTopic(serverName: string, schema: string, table: string): string {
  return `${serverName}.${schema}.${table}`;
}

/** A row as Debezium shows it: column name -> converted value; unchanged TOAST columns get the placeholder. */
export function rowOf(
  columns: readonly RelationColumn[],
  tuple: readonly TupleValue[],
  settings: EventSettings,
  onlyKeys = false,
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  columns.forEach((column, index) => {
    const value = tuple[index];
    if (!value || value.kind === "null") row[column.name] = null;
    else if (value.kind === "unchanged") row[column.name] = settings.placeholder;
    else if (onlyKeys && !column.isKey) row[column.name] = null;
    else row[column.name] = convertValue(value.text, column.typeOid, column.typeModifier, settings.values);
  });
  return row;
}

/** The record key: the key columns of `row`, or undefined for a table without one. */
export function keyOf(row: Record<string, unknown> | null, keyColumns: readonly string[]): string | undefined {
  if (!row || keyColumns.length === 0) return undefined;
  return JSON.stringify(Object.fromEntries(keyColumns.map((name) => [name, row[name] ?? null])));
}

export function changeEvent(
  op: Operation,
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  source: SourceInfo,
  settings: EventSettings,
): string {
  return JSON.stringify({
    before,
    after,
    source: {
      version: CONNECTOR_VERSION,
      connector: "postgresql",
      name: settings.serverName,
      ts_ms: source.tsMs,
      snapshot: source.snapshot,
      db: source.db,
      sequence: JSON.stringify([
        source.lastCommitLsn === null ? null : source.lastCommitLsn.toString(),
        source.lsn.toString(),
      ]),
      schema: source.schema,
      table: source.table,
      txId: source.txId,
      lsn: Number(source.lsn),
      xmin: null,
    },
    op,
    ts_ms: Date.now(),
    transaction: null,
  });
}

/** Which tables the include/exclude lists select (`schema` and `schema.table`, whole-name regular expressions). */
export class TableFilter {
  private readonly schemaInclude: RegExp[];
  private readonly schemaExclude: RegExp[];
  private readonly tableInclude: RegExp[];
  private readonly tableExclude: RegExp[];

  constructor(config: PostgresCdcConfig) {
    const compile = (list: string | undefined) => splitList(list).map((pattern) => new RegExp(`^(?:${pattern})$`, "i"));
    this.schemaInclude = compile(config["schema.include.list"]);
    this.schemaExclude = compile(config["schema.exclude.list"]);
    this.tableInclude = compile(config["table.include.list"]);
    this.tableExclude = compile(config["table.exclude.list"]);
  }

  includes(schema: string, table: string): boolean {
    if (schema === "pg_catalog" || schema === "information_schema") return false;
    const full = `${schema}.${table}`;
    if (this.schemaInclude.length > 0 && !this.schemaInclude.some((re) => re.test(schema))) return false;
    if (this.schemaExclude.some((re) => re.test(schema))) return false;
    if (this.tableInclude.length > 0 && !this.tableInclude.some((re) => re.test(full))) return false;
    return !this.tableExclude.some((re) => re.test(full));
  }
}
