import { confinedHostPath } from "@pulsar-connect/core";
import {
  type BulkRows,
  type DatabaseUrl,
  jsonParameter,
  onConflictUpsertClause,
  type SqlConnection,
  type SqlDialect,
  type SqlErrorKind,
  type SqlResult,
  type TableColumn,
} from "@pulsar-connect/jdbc-common";
import type Database from "better-sqlite3";

/** Errors that say the database file itself is unusable, rather than the data or the statement. */
const FILE_ERRORS = [
  "SQLITE_CANTOPEN",
  "SQLITE_IOERR",
  "SQLITE_CORRUPT",
  "SQLITE_NOTADB",
  "SQLITE_FULL",
  "SQLITE_READONLY",
];
/** Errors caused by the values of a statement. */
const DATA_ERRORS = ["SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE"];
const STATEMENT_CACHE_SIZE = 128;

class SqliteConnection implements SqlConnection {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.db = db;
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<SqlResult> {
    const statement = this.prepared(sql);
    const args = params.length > 0 ? [params as unknown[]] : [];
    if (statement.reader) return { rows: statement.all(...args) as Array<Record<string, unknown>>, affectedRows: 0 };
    return { rows: [], affectedRows: statement.run(...args).changes };
  }

  /**
   * Runs one prepared single-row statement per row, under a savepoint: a refused row undoes the rows before it, so
   * the call writes all of them or none, as one multi-row statement would.
   */
  runPerRow(sql: string, rows: ReadonlyArray<readonly unknown[]>): void {
    const statement = this.prepared(sql);
    this.db.exec("SAVEPOINT pulsar_connect_rows");
    try {
      for (const row of rows) statement.run(row as unknown[]);
    } catch (error) {
      this.db.exec("ROLLBACK TO SAVEPOINT pulsar_connect_rows");
      this.db.exec("RELEASE SAVEPOINT pulsar_connect_rows");
      throw error;
    }
    this.db.exec("RELEASE SAVEPOINT pulsar_connect_rows");
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.statements.keys().next().value;
        if (oldest !== undefined) this.statements.delete(oldest);
      }
      this.statements.set(sql, statement);
    }
    return statement;
  }

  async close(): Promise<void> {
    this.statements.clear();
    try {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      this.db.close();
    } catch {
      // closing is best effort
    }
  }
}

/** SQLite through better-sqlite3: an embedded database file, WAL journal, upserts with ON CONFLICT. */
export const sqliteDialect: SqlDialect = {
  name: "SQLite",
  urlExample: "jdbc:sqlite:/var/lib/pulsar-connect/data.db",
  maxParameters: 32_766,
  failedStatementAbortsTransaction: false,
  positionsTableDdl:
    "CREATE TABLE IF NOT EXISTS pulsar_connect_positions (connector_name TEXT NOT NULL, topic TEXT NOT NULL, " +
    "ledger_id INTEGER NOT NULL, entry_id INTEGER NOT NULL, batch_index INTEGER NOT NULL, " +
    "PRIMARY KEY (connector_name, topic))",

  checkUrl(url: DatabaseUrl): string | undefined {
    if (url.scheme !== "sqlite" && url.scheme !== "file") {
      return `must be a SQLite URL (jdbc:sqlite:<path>) or a file path, not ${url.scheme}:`;
    }
    if (url.path !== undefined && url.path !== ":memory:") confinedHostPath(url.path, "configs.jdbcUrl");
    return undefined;
  },

  async connect(_config, url): Promise<SqlConnection> {
    // A database file only inside the folders the operator allows: a tenant must not open another one's files.
    const path =
      url.path === ":memory:" || url.path === undefined ? ":memory:" : confinedHostPath(url.path, "configs.jdbcUrl");
    // The driver loads with the first connection: a worker that only lists this connector does not hold it.
    const { default: Driver } = await import("better-sqlite3");
    const db = new Driver(path, { timeout: 5_000 });
    try {
      db.pragma("journal_mode = WAL");
      db.defaultSafeIntegers(true);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteConnection(db);
  },

  quoteIdentifier(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  },

  placeholder(_position: number): string {
    return "?";
  },

  async describeTable(connection, table): Promise<TableColumn[]> {
    const result = await connection.execute(
      'SELECT name, type, "notnull" AS not_null, pk FROM pragma_table_info(?, ?) ORDER BY cid',
      [table.name, table.schema ?? "main"],
    );
    return result.rows.map((row) => ({
      name: String(row.name),
      type: String(row.type).toLowerCase(),
      nullable: Number(row.not_null) === 0,
      primaryKeyPosition: Number(row.pk),
    }));
  },

  upsertClause: onConflictUpsertClause,

  // What the database's own fastest ingest is: one prepared insert run for each row, in the transaction under way.
  async bulkWrite(connection: SqlConnection, rows: BulkRows): Promise<boolean> {
    if (!(connection instanceof SqliteConnection)) return false;
    const placeholders = rows.columns.map(() => "?").join(", ");
    let sql = `INSERT INTO ${rows.table} (${rows.columns.join(", ")}) VALUES (${placeholders})`;
    if (rows.upsert !== undefined) sql += onConflictUpsertClause(rows.upsert.keys, rows.upsert.updates);
    connection.runPerRow(sql, rows.values);
    return true;
  },

  toParameter(value: unknown): unknown {
    if (typeof value === "string" || typeof value === "number") return value;
    if (typeof value === "boolean") return value ? 1 : 0;
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
    return jsonParameter(value);
  },

  classifyError(error: unknown): SqlErrorKind {
    // better-sqlite3 refuses values it cannot bind with a TypeError or RangeError before running anything.
    if (error instanceof TypeError || error instanceof RangeError) return "record";
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== "string") return "other";
    if (DATA_ERRORS.some((prefix) => code.startsWith(prefix))) return "record";
    if (FILE_ERRORS.some((prefix) => code.startsWith(prefix))) return "connection";
    return "other";
  },
};
