import { ConnectorError } from "@pulsar-connect/core";
import {
  type BulkRows,
  type DatabaseUrl,
  jsonParameter,
  mariadbTls,
  onDuplicateKeyUpsertClause,
  type SqlConnection,
  type SqlDialect,
  type SqlErrorKind,
  type SqlResult,
  type TableColumn,
  tlsConnectionOptions,
} from "@pulsar-connect/jdbc-common";
import type mysql from "mysql2/promise";

const SCHEMES = new Set(["mariadb", "mysql"]);
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
]);
/** Server errors about the connection: access denied, unknown database, too many connections, shutdown, gone away. */
const CONNECTION_ERRNOS = new Set([1040, 1044, 1045, 1049, 1053, 1927, 2002, 2003, 2006, 2013]);
/**
 * Server errors caused by the values of a statement: NOT NULL, duplicate key, out of range, truncation, bad value,
 * too long, foreign key, check constraint, invalid JSON, missing default.
 */
const RECORD_ERRNOS = new Set([
  1048, 1062, 1263, 1264, 1265, 1292, 1364, 1366, 1367, 1406, 1411, 1416, 1451, 1452, 1690, 3140, 3819, 4025,
]);

/** Warning ER_WARNING_NOT_COMPLETE_ROLLBACK: some non-transactional changed tables could not be rolled back. */
const NOT_ROLLED_BACK = 1196;

/** Size a bulk write's statements stay under, in bytes, when the server's max_allowed_packet allows it. */
const STATEMENT_BYTES = 4 << 20;
/** Room left in a packet for what the protocol adds to a statement's text. */
const PACKET_HEADROOM = 64 << 10;

class MariadbConnection implements SqlConnection {
  private readonly connection: mysql.Connection;
  /** Most bytes of one bulk statement: {@link STATEMENT_BYTES}, or less when the server takes smaller packets. */
  private readonly statementBytes: number;

  constructor(connection: mysql.Connection, maxAllowedPacket: number) {
    this.connection = connection;
    const packetBytes = Number.isFinite(maxAllowedPacket) ? maxAllowedPacket - PACKET_HEADROOM : STATEMENT_BYTES;
    this.statementBytes = Math.max(PACKET_HEADROOM, Math.min(STATEMENT_BYTES, packetBytes));
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<SqlResult> {
    const [result] = await this.connection.query(sql, params as unknown[]);
    if (Array.isArray(result)) return { rows: result as Array<Record<string, unknown>>, affectedRows: 0 };
    return { rows: [], affectedRows: (result as mysql.ResultSetHeader).affectedRows };
  }

  /**
   * Inserts rows in multi-row statements of at most {@link statementBytes} bytes of UTF-8 (a row larger than that
   * alone), under a savepoint when there are several: a refused row undoes them all, as one statement would.
   */
  async insertRows(head: string, tail: string, rows: ReadonlyArray<readonly unknown[]>): Promise<void> {
    const statements: string[] = [];
    const fixed = Buffer.byteLength(head) + Buffer.byteLength(tail);
    let tuples: string[] = [];
    let bytes = fixed;
    for (const row of rows) {
      const tuple = `(${this.connection.escape(row as unknown[])})`;
      const size = Buffer.byteLength(tuple);
      if (tuples.length > 0 && bytes + 1 + size > this.statementBytes) {
        statements.push(`${head}${tuples.join(",")}${tail}`);
        tuples = [];
        bytes = fixed;
      }
      bytes += (tuples.length > 0 ? 1 : 0) + size;
      tuples.push(tuple);
    }
    if (tuples.length > 0) statements.push(`${head}${tuples.join(",")}${tail}`);
    if (statements.length === 1) {
      await this.connection.query(statements[0] as string);
      return;
    }
    await this.connection.query("SAVEPOINT pulsar_connect_rows");
    try {
      for (const statement of statements) await this.connection.query(statement);
    } catch (error) {
      // A refused run may be written again row by row only when it is undone: a failed rollback is thrown instead.
      const [rollback] = await this.connection.query<mysql.ResultSetHeader>(
        "ROLLBACK TO SAVEPOINT pulsar_connect_rows",
      );
      if (rollback.warningStatus > 0) {
        const [warnings] = await this.connection.query<mysql.RowDataPacket[]>("SHOW WARNINGS");
        if (warnings.some((warning) => Number(warning.Code) === NOT_ROLLED_BACK)) {
          // Writing the run again would store those rows twice; the sink ends the instance instead.
          throw new ConnectorError(
            "FATAL",
            `MariaDB could not undo a refused write of ${rows.length} rows (a table that does not roll back changed): some of them may be stored; not writing them again`,
            { cause: error, retryable: false },
          );
        }
      }
      throw error;
    }
    await this.connection.query("RELEASE SAVEPOINT pulsar_connect_rows");
  }

  async close(): Promise<void> {
    try {
      await this.connection.end();
    } catch {
      this.connection.destroy();
    }
  }
}

/** MariaDB (and MySQL) through mysql2: one connection per instance, upserts with ON DUPLICATE KEY UPDATE. */
export const mariadbDialect: SqlDialect = {
  name: "MariaDB",
  urlExample: "jdbc:mariadb://localhost:3306/mydb",
  maxParameters: 65_535,
  failedStatementAbortsTransaction: false,
  lockingReadSuffix: " FOR UPDATE",
  positionsTableDdl:
    "CREATE TABLE IF NOT EXISTS pulsar_connect_positions (connector_name VARCHAR(255) NOT NULL, " +
    "topic VARCHAR(500) NOT NULL, ledger_id BIGINT NOT NULL, entry_id BIGINT NOT NULL, batch_index INT NOT NULL, " +
    "PRIMARY KEY (connector_name, topic)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

  checkUrl(url: DatabaseUrl): string | undefined {
    if (!SCHEMES.has(url.scheme))
      return `must be a MariaDB URL (jdbc:mariadb://host:port/db or mysql://...), not ${url.scheme}:`;
    if (url.database === undefined) return "must name a database (jdbc:mariadb://host:port/<database>)";
    const tls = mariadbTls(url);
    if (tls) tlsConnectionOptions(tls, "configs.jdbcUrl (serverSslCert)");
    return undefined;
  },

  async connect(config, url): Promise<SqlConnection> {
    const tls = mariadbTls(url);
    // The driver loads with the first connection: a worker that only lists this connector does not hold it.
    const { default: driver } = await import("mysql2/promise");
    const connection = await driver.createConnection({
      ...(tls
        ? {
            ssl: {
              ca: tlsConnectionOptions(tls, "configs.jdbcUrl (serverSslCert)").ca as string | undefined,
              rejectUnauthorized: tls.verifyChain,
              verifyIdentity: tls.verifyHost,
            },
          }
        : {}),
      host: url.host,
      port: url.port ?? 3306,
      database: url.database,
      user: config.userName !== "" ? config.userName : url.user,
      password: config.password !== "" ? config.password : (url.password ?? ""),
      charset: "utf8mb4",
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: 10_000,
      timezone: "Z",
    });
    // A dropped connection is reported on the next statement; without a listener the event would be fatal.
    connection.on("error", () => undefined);
    // Strict mode makes the server refuse bad values (the record is dead-lettered) instead of storing mangled ones.
    await connection.query(
      "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')",
    );
    const [packet] = await connection.query<mysql.RowDataPacket[]>("SELECT @@max_allowed_packet AS bytes");
    return new MariadbConnection(connection, Number(packet[0]?.bytes));
  },

  quoteIdentifier(name: string): string {
    return `\`${name.replaceAll("`", "``")}\``;
  },

  placeholder(): string {
    return "?";
  },

  async describeTable(connection, table): Promise<TableColumn[]> {
    const result = await connection.execute(
      `SELECT c.COLUMN_NAME AS name, c.COLUMN_TYPE AS type, c.IS_NULLABLE AS nullable, COALESCE(k.ORDINAL_POSITION, 0) AS pk
         FROM information_schema.COLUMNS c
         LEFT JOIN information_schema.KEY_COLUMN_USAGE k
           ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME
          AND k.CONSTRAINT_NAME = 'PRIMARY'
        WHERE c.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND c.TABLE_NAME = ?
        ORDER BY c.ORDINAL_POSITION`,
      [table.schema ?? null, table.name],
    );
    return result.rows.map((row) => ({
      name: String(row.name),
      type: String(row.type).toLowerCase(),
      nullable: row.nullable === "YES",
      primaryKeyPosition: Number(row.pk),
    }));
  },

  async nonTransactionalEngine(connection, table): Promise<string | undefined> {
    const result = await connection.execute(
      `SELECT t.ENGINE AS engine, e.TRANSACTIONS AS transactions
         FROM information_schema.TABLES t
         LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
        WHERE t.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND t.TABLE_NAME = ?`,
      [table.schema ?? null, table.name],
    );
    const row = result.rows[0];
    // A view has no engine of its own (NULL): it is written as its table would be before engines were looked at.
    if (row === undefined || row.engine === null || row.transactions === "YES") return undefined;
    return String(row.engine);
  },

  upsertClause: onDuplicateKeyUpsertClause,

  // A whole batch in statements much larger than batchSize rows: the server's cost per statement dominates.
  async bulkWrite(connection: SqlConnection, rows: BulkRows): Promise<boolean> {
    if (!(connection instanceof MariadbConnection)) return false;
    const upsert = rows.upsert === undefined ? "" : onDuplicateKeyUpsertClause(rows.upsert.keys, rows.upsert.updates);
    await connection.insertRows(`INSERT INTO ${rows.table} (${rows.columns.join(", ")}) VALUES `, upsert, rows.values);
    return true;
  },

  toParameter(value: unknown): unknown {
    if (typeof value === "string" || typeof value === "number") return value;
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Date) return value;
    if (value instanceof Uint8Array)
      return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return jsonParameter(value);
  },

  classifyError(error: unknown): SqlErrorKind {
    const details = (error ?? {}) as { code?: unknown; errno?: unknown; fatal?: unknown };
    if (details.fatal === true) return "connection";
    if (typeof details.code === "string" && CONNECTION_CODES.has(details.code)) return "connection";
    if (typeof details.errno === "number") {
      if (CONNECTION_ERRNOS.has(details.errno)) return "connection";
      if (RECORD_ERRNOS.has(details.errno)) return "record";
    }
    if (typeof details.code === "string" && details.code.startsWith("ER_")) return "other";
    const message = error instanceof Error ? error.message : String(error);
    return /closed state|connection/i.test(message) ? "connection" : "other";
  },
};
