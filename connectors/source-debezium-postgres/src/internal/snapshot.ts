/**
 * The initial snapshot: every captured table read in primary-key order inside one REPEATABLE READ transaction
 * (importing the slot's exported snapshot when there is one, so the stream continues exactly where it ends).
 * Progress (rows acknowledged by Pulsar, and the last of their keys) is kept per table, so a snapshot interrupted
 * halfway resumes after the last acknowledged row instead of starting over.
 */
import type pg from "pg";
import type { FieldDef } from "pg";
import { qualifiedName, quoteIdent, type TableInfo } from "./catalog.ts";
import type { RelationColumn } from "./pgoutput.ts";

/** Snapshot progress of one table, as saved in the connector state. */
export interface TableProgress {
  /** Every row was read and acknowledged. */
  done: boolean;
  /** Rows acknowledged so far (their ordinals are 1..rows). */
  rows: number;
  /** Primary key (as text) of the last acknowledged row; null before the first one or without a primary key. */
  lastKey: string[] | null;
}

/** One row read, not yet acknowledged. */
export interface SnapshotRow {
  table: TableInfo;
  /** 1-based position in the table's key order: the record's sequence id. */
  ordinal: number;
  columns: RelationColumn[];
  values: (string | null)[];
  key: string[] | null;
}

const CURSOR = "pulsar_connect_snapshot";

interface TableCursor {
  table: TableInfo;
  progress: TableProgress;
  /** Ordinal of the next row read. */
  nextOrdinal: number;
  /** Rows handed out, in order, with whether they were acked. */
  window: Array<{ ordinal: number; key: string[] | null; acked: boolean }>;
  readAll: boolean;
}

export class SnapshotReader {
  private readonly client: pg.Client;
  private readonly tables: TableCursor[];
  private current = 0;
  private cursorOpen = false;
  private readonly fetchSize: number;

  constructor(client: pg.Client, tables: TableInfo[], saved: Record<string, TableProgress>, fetchSize: number) {
    this.client = client;
    this.fetchSize = fetchSize;
    this.tables = tables.map((table) => {
      const progress = saved[`${table.schema}.${table.table}`] ?? { done: false, rows: 0, lastKey: null };
      return { table, progress: { ...progress }, nextOrdinal: progress.rows + 1, window: [], readAll: progress.done };
    });
  }

  /** Opens the snapshot transaction, importing `exported` (a snapshot name) when given. Returns its txid. */
  async begin(exported: string | undefined): Promise<number> {
    await this.client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (exported) await this.client.query(`SET TRANSACTION SNAPSHOT '${exported.replaceAll("'", "''")}'`);
    const txid = await this.client.query<{ txid: string }>("SELECT txid_current_if_assigned()::text AS txid");
    return Number(txid.rows[0]?.txid ?? 0);
  }

  /** Whether every row of every table was read (not necessarily acknowledged). */
  get finishedReading(): boolean {
    return this.current >= this.tables.length;
  }

  /** Whether every row read was acknowledged. */
  get allAcked(): boolean {
    return this.tables.every((cursor) => cursor.window.every((entry) => entry.acked));
  }

  /** Whether everything was read and acknowledged. */
  get complete(): boolean {
    return this.finishedReading && this.allAcked;
  }

  /** Up to `max` next rows, moving through the tables; an empty answer only when everything was read. */
  async next(max: number): Promise<SnapshotRow[]> {
    while (this.current < this.tables.length) {
      const cursor = this.tables[this.current] as TableCursor;
      if (cursor.readAll) {
        this.current += 1;
        continue;
      }
      if (!this.cursorOpen) await this.openCursor(cursor);
      const count = Math.min(max, this.fetchSize);
      const result = await this.client.query<Record<string, string | null>>({
        text: `FETCH FORWARD ${count} FROM ${CURSOR}`,
        rowMode: "array",
      } as pg.QueryConfig);
      const rows = result.rows as unknown as (string | null)[][];
      if (rows.length < count) {
        await this.client.query(`CLOSE ${CURSOR}`);
        this.cursorOpen = false;
        cursor.readAll = true;
        this.current += 1;
      }
      if (rows.length === 0) continue;
      const columns = columnsOf(result.fields, cursor.table.primaryKey);
      const keyIndexes = cursor.table.primaryKey.map((name) => columns.findIndex((column) => column.name === name));
      return rows.map((values) => {
        const key = keyIndexes.length > 0 ? keyIndexes.map((index) => values[index] ?? "") : null;
        const ordinal = cursor.nextOrdinal++;
        cursor.window.push({ ordinal, key, acked: false });
        return { table: cursor.table, ordinal, columns, values, key };
      });
    }
    return [];
  }

  /** The row `ordinal` of `table` reached Pulsar. */
  ack(table: TableInfo, ordinal: number): void {
    const cursor = this.tables.find((candidate) => candidate.table === table);
    if (!cursor) return;
    const entry = cursor.window.find((candidate) => candidate.ordinal === ordinal);
    if (!entry) return;
    entry.acked = true;
    while (cursor.window[0]?.acked) {
      const first = cursor.window.shift() as { ordinal: number; key: string[] | null };
      cursor.progress.rows = first.ordinal;
      cursor.progress.lastKey = first.key;
    }
    if (cursor.readAll && cursor.window.length === 0) cursor.progress.done = true;
  }

  /** Progress per table, for the connector state. */
  progress(): Record<string, TableProgress> {
    return Object.fromEntries(
      this.tables.map((cursor) => [`${cursor.table.schema}.${cursor.table.table}`, { ...cursor.progress }]),
    );
  }

  /** Ends the snapshot transaction. */
  async end(): Promise<void> {
    await this.client.query("COMMIT").catch(() => undefined);
  }

  private async openCursor(cursor: TableCursor): Promise<void> {
    const { table, progress } = cursor;
    const name = qualifiedName(table.schema, table.table);
    const key = table.primaryKey.map(quoteIdent);
    let sql: string;
    let params: string[] = [];
    if (key.length > 0) {
      const after =
        progress.lastKey === null
          ? ""
          : ` WHERE (${key.join(", ")}) > (${progress.lastKey.map((_, index) => `$${index + 1}`).join(", ")})`;
      params = progress.lastKey ?? [];
      sql = `SELECT * FROM ${name}${after} ORDER BY ${key.join(", ")}`;
    } else {
      // Without a key, a resumed read skips the rows already acknowledged (same physical order in a stable table).
      sql = `SELECT * FROM ${name} ORDER BY ctid OFFSET ${progress.rows}`;
    }
    await this.client.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${sql}`, params);
    this.cursorOpen = true;
  }
}

function columnsOf(fields: readonly FieldDef[], primaryKey: readonly string[]): RelationColumn[] {
  return fields.map((field) => ({
    name: field.name,
    typeOid: field.dataTypeID,
    typeModifier: field.dataTypeModifier,
    isKey: primaryKey.includes(field.name),
  }));
}
