import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";

/** The database of the harness on the shared PostgreSQL: faults on it touch nobody else's connections. */
export const PG_DATABASE = "torture";

const COLUMNS = `"id" BIGINT NOT NULL, "firstName" TEXT NOT NULL, "lastName" TEXT NOT NULL, "email" TEXT NOT NULL,
  "age" INTEGER NOT NULL, "city" TEXT NOT NULL, "active" BOOLEAN NOT NULL`;

export interface PgTarget {
  host: string;
  port: number;
  user: string;
}

function pgClient(target: PgTarget, database: string): pg.Client {
  return new pg.Client({ host: target.host, port: target.port, user: target.user, database });
}

async function withPg<T>(target: PgTarget, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = pgClient(target, database);
  // A database fault (of this run, or of another run on the same server) may end the session: the pending query
  // then rejects, and the client's 'error' event, unheard, would end the harness.
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function preparePostgres(target: PgTarget): Promise<void> {
  await withPg(target, "postgres", async (client) => {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [PG_DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${PG_DATABASE}`);
    await client.query(`ALTER DATABASE ${PG_DATABASE} ALLOW_CONNECTIONS true`);
  });
}

/**
 * Rows are written with INSERT into a table without a key, so that a record written twice shows up as two rows
 * (an upsert would hide it).
 */
export async function createPgTable(target: PgTarget, table: string): Promise<void> {
  await withPg(target, PG_DATABASE, async (client) => {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE TABLE ${table} (${COLUMNS})`);
  });
}

export async function pgRowsPerId(target: PgTarget, table: string): Promise<Map<number, number>> {
  return withPg(target, PG_DATABASE, async (client) => {
    const result = await client.query<{ id: string; n: string }>(`SELECT id, count(*) AS n FROM ${table} GROUP BY id`);
    return new Map(result.rows.map((row) => [Number(row.id), Number(row.n)]));
  });
}

export async function dropPgTable(target: PgTarget, table: string): Promise<void> {
  await withPg(target, PG_DATABASE, (client) => client.query(`DROP TABLE IF EXISTS ${table}`)).catch(() => {});
}

/** Ends every session on the harness's database but the caller's: what a failover or a DBA's kill does. */
export async function killPgConnections(target: PgTarget): Promise<number> {
  return withPg(target, "postgres", async (client) => {
    const result = await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [PG_DATABASE],
    );
    return result.rowCount ?? 0;
  });
}

/**
 * The database becomes unreachable for the pipelines (new connections refused, current ones ended) without
 * stopping the shared server; `restore` opens it again.
 */
export async function blockPg(target: PgTarget): Promise<void> {
  await withPg(target, "postgres", async (client) => {
    await client.query(`ALTER DATABASE ${PG_DATABASE} ALLOW_CONNECTIONS false`);
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [PG_DATABASE],
    );
  });
}

export async function unblockPg(target: PgTarget): Promise<void> {
  await withPg(target, "postgres", (client) => client.query(`ALTER DATABASE ${PG_DATABASE} ALLOW_CONNECTIONS true`));
}

export function sqlitePath(dir: string, table: string): string {
  return join(dir, `${table}.db`);
}

export function createSqliteTable(path: string, table: string): void {
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.exec(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (${COLUMNS})`);
  } finally {
    db.close();
  }
}

export function sqliteRowsPerId(path: string, table: string): Map<number, number> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 10000");
    const rows = db.prepare(`SELECT id, count(*) AS n FROM ${table} GROUP BY id`).all() as Array<{
      id: number;
      n: number;
    }>;
    return new Map(rows.map((row) => [Number(row.id), Number(row.n)]));
  } finally {
    db.close();
  }
}
