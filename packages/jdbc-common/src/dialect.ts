import type { JdbcSinkConfig } from "./config.ts";
import type { DatabaseUrl } from "./url.ts";

/** What a database error means for the write that hit it. */
export type SqlErrorKind =
  /** The connection is gone or unusable: reconnect and retry later. */
  | "connection"
  /** The data of the statement was refused (type, constraint, value): the record is bad, the rest may go on. */
  | "record"
  /** Anything else (missing table, permissions, deadlock): the whole write failed and may be retried. */
  | "other";

/** Result of one statement. */
export interface SqlResult {
  /** Rows returned by a query (empty for other statements). */
  rows: Array<Record<string, unknown>>;
  /** Rows inserted, updated or deleted. */
  affectedRows: number;
}

/** One open database connection, used by one sink instance at a time. */
export interface SqlConnection {
  /** Runs one statement with positional parameters. */
  execute(sql: string, params?: readonly unknown[]): Promise<SqlResult>;
  /** Closes the connection. Never throws. */
  close(): Promise<void>;
}

/** A table to write to, as named by `tableName` (`table` or `schema.table`). */
export interface TableRef {
  schema?: string;
  name: string;
}

/** A column of the target table, as the database describes it. */
export interface TableColumn {
  /** Column name as stored in the catalog. */
  name: string;
  /** Database type name, lower case (`integer`, `varchar`, `jsonb`, `_int4`, ...). */
  type: string;
  /** Whether the column accepts NULL. */
  nullable: boolean;
  /** Position of the column in the primary key (1-based), 0 when it is not part of it. */
  primaryKeyPosition: number;
}

/** Everything that differs between databases. The rest of the sink is shared. */
export interface SqlDialect {
  /** Short name used in messages (`PostgreSQL`, `MariaDB`, `SQLite`). */
  readonly name: string;
  /** A URL shown in help texts. */
  readonly urlExample: string;
  /** Most bind parameters one statement may carry. */
  readonly maxParameters: number;
  /** True when a failed statement aborts the whole transaction (PostgreSQL); savepoints then isolate records. */
  readonly failedStatementAbortsTransaction: boolean;
  /**
   * Appended to a SELECT to lock the rows it reads until the transaction ends (` FOR UPDATE`). Left out where a
   * writing transaction already excludes every other writer (SQLite).
   */
  readonly lockingReadSuffix?: string;
  /** DDL creating the positions table if it does not exist. */
  readonly positionsTableDdl: string;
  /** Checks a parsed URL: returns what is wrong with it, or undefined. */
  checkUrl(url: DatabaseUrl): string | undefined;
  /** Opens a connection. Errors are classified with {@link SqlDialect.classifyError}. */
  connect(config: JdbcSinkConfig, url: DatabaseUrl): Promise<SqlConnection>;
  /** Quotes an identifier. */
  quoteIdentifier(name: string): string;
  /** The bind parameter placeholder at 1-based `position` (`$1` or `?`). */
  placeholder(position: number): string;
  /** The columns of a table in ordinal order; an empty list when the table does not exist. */
  describeTable(connection: SqlConnection, table: TableRef): Promise<TableColumn[]>;
  /**
   * Optional: the storage engine of a table whose writes a refused statement or a rollback does not undo (MariaDB
   * MyISAM, Aria), undefined when its writes roll back. Rows of such a table are written one per statement: a refused
   * multi-row statement could leave some of its rows written, and writing them again would store them twice.
   */
  nonTransactionalEngine?(connection: SqlConnection, table: TableRef): Promise<string | undefined>;
  /**
   * Optional: an INSERT of many rows taking one array parameter per column (PostgreSQL `unnest`), used instead of
   * multi-row VALUES; its cost does not grow with the number of bind parameters. `columns` are quoted, `types` are
   * the columns' {@link TableColumn.type}. Returns undefined when these columns do not allow it.
   */
  columnarInsert?(table: string, columns: readonly string[], types: readonly string[]): string | undefined;
  /**
   * Optional: writes the rows of one multi-row INSERT or UPSERT by a faster way than the statement (PostgreSQL
   * `COPY`, a prepared insert run per row, statements larger than `batchSize`), inside the transaction under way.
   * Resolves false, having sent nothing, when these rows or values do not allow it: the statement is run instead.
   * Errors are those of a statement ({@link SqlDialect.classifyError}); a failed call leaves none of its rows written
   * where a refused statement does not abort the transaction (a savepoint around several statements).
   */
  bulkWrite?(connection: SqlConnection, rows: BulkRows): Promise<boolean>;
  /** The clause appended to a multi-row INSERT to make it an upsert (arguments already quoted). */
  upsertClause(keyColumns: readonly string[], updateColumns: readonly string[]): string;
  /** Converts a record field value to what the driver binds for `column` (JSON text for objects, etc.). */
  toParameter(value: unknown, column: TableColumn | undefined): unknown;
  /** What an error thrown by the driver means. */
  classifyError(error: unknown): SqlErrorKind;
}

/** Rows of one shape for {@link SqlDialect.bulkWrite}. */
export interface BulkRows {
  /** Quoted, schema-qualified table name. */
  table: string;
  /** Quoted column names. */
  columns: readonly string[];
  /** The columns' {@link TableColumn.type}, aligned with `columns`. */
  types: readonly string[];
  /** Values as {@link SqlDialect.toParameter} made them, one array per row, aligned with `columns`. */
  values: ReadonlyArray<readonly unknown[]>;
  /** Present for an upsert: key columns and the columns updated on conflict (quoted). */
  upsert?: { keys: readonly string[]; updates: readonly string[] };
}

/** The `INSERT ... ON CONFLICT (...) DO UPDATE` upsert clause of PostgreSQL and SQLite. */
export function onConflictUpsertClause(keyColumns: readonly string[], updateColumns: readonly string[]): string {
  if (updateColumns.length === 0) return ` ON CONFLICT (${keyColumns.join(", ")}) DO NOTHING`;
  const sets = updateColumns.map((column) => `${column} = excluded.${column}`).join(", ");
  return ` ON CONFLICT (${keyColumns.join(", ")}) DO UPDATE SET ${sets}`;
}

/** The `INSERT ... ON DUPLICATE KEY UPDATE` upsert clause of MariaDB and MySQL. */
export function onDuplicateKeyUpsertClause(keyColumns: readonly string[], updateColumns: readonly string[]): string {
  const targets = updateColumns.length > 0 ? updateColumns : keyColumns.slice(0, 1);
  return ` ON DUPLICATE KEY UPDATE ${targets.map((column) => `${column} = VALUES(${column})`).join(", ")}`;
}

/** JSON text for objects and arrays, ISO text for dates; other values unchanged. Shared by the dialects. */
export function jsonParameter(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return value;
  if (value !== null && typeof value === "object") {
    return JSON.stringify(value, (_key, inner: unknown) => (typeof inner === "bigint" ? inner.toString() : inner));
  }
  return value;
}
