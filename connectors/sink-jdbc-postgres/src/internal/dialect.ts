import {
  type BulkRows,
  type DatabaseUrl,
  jsonParameter,
  onConflictUpsertClause,
  postgresTls,
  type SqlConnection,
  type SqlDialect,
  type SqlErrorKind,
  type SqlResult,
  type TableColumn,
  tlsConnectionOptions,
} from "@pulsar-connect/jdbc-common";
import type pg from "pg";
import { COPY_MIN_ROWS, CopyFromStdin, encodeBinaryRows } from "./copy.ts";

const SCHEMES = new Set(["postgresql", "postgres", "pgsql"]);
const NETWORK_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN",
]);

class PgConnection implements SqlConnection {
  private readonly client: pg.Client;

  constructor(client: pg.Client) {
    this.client = client;
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<SqlResult> {
    const result = await this.client.query({ text: sql, values: params as unknown[] });
    return { rows: result.rows as Array<Record<string, unknown>>, affectedRows: result.rowCount ?? 0 };
  }

  /** Runs a query holding `COPY ... FROM STDIN`, sending `data` as its input. */
  async copy(text: string, data: readonly Buffer[]): Promise<void> {
    const query = new CopyFromStdin(text, data);
    this.client.query(query);
    await query.done;
  }

  /** The name of this connection's staging table for upserts of these columns. */
  stageFor(shape: string): string {
    let name = this.stages.get(shape);
    if (name === undefined) {
      name = `pg_temp.pulsar_connect_stage_${this.stages.size + 1}`;
      this.stages.set(shape, name);
    }
    return name;
  }

  private readonly stages = new Map<string, string>();

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/**
 * INSERT: `COPY` into the table. UPSERT: `COPY` into a temporary table of the same column types, then one
 * `INSERT ... SELECT ... ON CONFLICT`, all in one query. The staging table is emptied at every commit (and a
 * rollback undoes its rows); it is created again when the transaction that created it was rolled back.
 */
async function copyRows(connection: SqlConnection, rows: BulkRows): Promise<boolean> {
  if (!(connection instanceof PgConnection) || rows.values.length < COPY_MIN_ROWS) return false;
  const data = encodeBinaryRows(rows);
  if (data === undefined) return false;
  const columns = rows.columns.join(", ");
  if (rows.upsert === undefined) {
    await connection.copy(`COPY ${rows.table} (${columns}) FROM STDIN (FORMAT binary)`, data);
    return true;
  }
  const stage = connection.stageFor(`${rows.table}|${columns}|${rows.types.join(",")}`);
  await connection.copy(
    `CREATE TEMP TABLE IF NOT EXISTS ${stage} ON COMMIT DELETE ROWS AS SELECT ${columns} FROM ${rows.table} WITH NO DATA;` +
      `COPY ${stage} (${columns}) FROM STDIN (FORMAT binary);` +
      // Taking the rows out as they are read leaves the table empty for the next upsert in this transaction.
      `WITH staged AS (DELETE FROM ${stage} RETURNING ${columns}) ` +
      `INSERT INTO ${rows.table} (${columns}) SELECT ${columns} FROM staged` +
      onConflictUpsertClause(rows.upsert.keys, rows.upsert.updates),
    data,
  );
  return true;
}

/**
 * A column type without its length or precision, for the arrays of a columnar insert: an explicit cast to
 * `varchar(5)` would cut a longer value silently, where storing into the column refuses it (and rounds numerics the
 * same way). `character` and `bit` alone would mean a length of 1, hence their unbounded names.
 */
function withoutLength(type: string): string {
  const base = type.replace(/\(\d+(,\s*\d+)?\)/g, "");
  if (base === "character") return "bpchar";
  if (base === "bit") return "varbit";
  return base;
}

/** PostgreSQL through node-postgres: one connection per instance, upserts with ON CONFLICT, savepoints to isolate records. */
export const postgresDialect: SqlDialect = {
  name: "PostgreSQL",
  urlExample: "jdbc:postgresql://localhost:5432/mydb",
  maxParameters: 65_535,
  failedStatementAbortsTransaction: true,
  lockingReadSuffix: " FOR UPDATE",
  positionsTableDdl:
    "CREATE TABLE IF NOT EXISTS pulsar_connect_positions (connector_name TEXT NOT NULL, topic TEXT NOT NULL, " +
    "ledger_id BIGINT NOT NULL, entry_id BIGINT NOT NULL, batch_index INTEGER NOT NULL, " +
    "PRIMARY KEY (connector_name, topic))",

  checkUrl(url: DatabaseUrl): string | undefined {
    if (!SCHEMES.has(url.scheme))
      return `must be a PostgreSQL URL (jdbc:postgresql://host:port/db or postgres://...), not ${url.scheme}:`;
    if (url.database === undefined) return "must name a database (jdbc:postgresql://host:port/<database>)";
    const tls = postgresTls(url);
    if (tls) tlsConnectionOptions(tls, "configs.jdbcUrl (sslrootcert)");
    return undefined;
  },

  async connect(config, url): Promise<SqlConnection> {
    const tls = postgresTls(url);
    // The driver loads with the first connection: a worker that only lists this connector does not hold it.
    const { default: driver } = await import("pg");
    const client = new driver.Client({
      host: url.host,
      port: url.port ?? 5432,
      database: url.database,
      user: config.userName !== "" ? config.userName : url.user,
      password: config.password !== "" ? config.password : url.password,
      application_name: url.params.ApplicationName ?? "pulsar-connect",
      connectionTimeoutMillis: 10_000,
      ssl: tls ? tlsConnectionOptions(tls, "configs.jdbcUrl (sslrootcert)") : false,
    });
    // An idle connection that drops emits "error"; the next statement then fails and the sink reconnects.
    client.on("error", () => undefined);
    await client.connect();
    const connection = new PgConnection(client);
    if (url.params.currentSchema !== undefined) {
      await connection.execute("SELECT set_config('search_path', $1, false)", [url.params.currentSchema]);
    }
    return connection;
  },

  quoteIdentifier(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  },

  placeholder(position: number): string {
    return `$${position}`;
  },

  async describeTable(connection, table): Promise<TableColumn[]> {
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const candidates = [table, { ...table, name: table.name.toLowerCase() }];
    for (const candidate of candidates) {
      const qualified =
        candidate.schema === undefined ? quote(candidate.name) : `${quote(candidate.schema)}.${quote(candidate.name)}`;
      const result = await connection.execute(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
                COALESCE((SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) WHERE k.attnum = a.attnum), 0) AS pk
           FROM pg_attribute a
           LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum`,
        [qualified],
      );
      if (result.rows.length > 0) {
        return result.rows.map((row) => ({
          name: String(row.name),
          type: String(row.type).toLowerCase(),
          nullable: row.nullable === true,
          primaryKeyPosition: Number(row.pk),
        }));
      }
    }
    return [];
  },

  columnarInsert(table: string, columns: readonly string[], types: readonly string[]): string | undefined {
    // unnest flattens arrays of arrays, so array columns keep the VALUES form.
    if (types.some((type) => type.endsWith("]"))) return undefined;
    const arrays = types.map((type, index) => `$${index + 1}::${withoutLength(type)}[]`);
    return `INSERT INTO ${table} (${columns.join(", ")}) SELECT * FROM unnest(${arrays.join(", ")})`;
  },

  upsertClause: onConflictUpsertClause,

  bulkWrite: copyRows,

  toParameter(value: unknown, column: TableColumn | undefined): unknown {
    // The common cases first: text as it is, numbers as they are except into JSON columns.
    if (typeof value === "string") return value;
    if (typeof value === "number" && column?.type !== "json" && column?.type !== "jsonb") return value;
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Date || value === null || value === undefined) return value ?? null;
    if (value instanceof Uint8Array)
      return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (Array.isArray(value) && column?.type.endsWith("[]")) return value;
    if (column?.type === "json" || column?.type === "jsonb") {
      return typeof value === "string"
        ? value
        : JSON.stringify(value, (_key, inner: unknown) => (typeof inner === "bigint" ? inner.toString() : inner));
    }
    return jsonParameter(value);
  },

  classifyError(error: unknown): SqlErrorKind {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      const sqlClass = code.slice(0, 2);
      if (sqlClass === "08" || sqlClass === "28" || code.startsWith("57P") || code === "3D000") return "connection";
      if (sqlClass === "22" || sqlClass === "23" || code === "42804" || code === "21000") return "record";
      return "other";
    }
    if (typeof code === "string" && NETWORK_ERRORS.has(code)) return "connection";
    const message = error instanceof Error ? error.message : String(error);
    if (/connection|terminated|not queryable|timeout/i.test(message)) return "connection";
    return "other";
  },
};
