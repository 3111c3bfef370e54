import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@pulsar-connect/core";
import { defineJdbcSink, type SqlDialect } from "@pulsar-connect/jdbc-common";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { describeJdbcSink } from "../../../packages/jdbc-common/test/sink-suite.ts";
import jdbcSqliteSink, { sqliteDialect } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "jdbc-sqlite-"));
const file = join(dir, "sink.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeJdbcSink({
  label: "SQLite",
  definition: jdbcSqliteSink,
  concurrentWriters: false,
  jdbcUrl: `jdbc:sqlite:${file}`,
  equivalentUrls: [`jdbc:sqlite:${file}`, file, `file://${file}`, `sqlite:${file}`],
  foreignUrl: "jdbc:postgresql://127.0.0.1:5432/test",
  unreachableUrl: join(dir, "no-such-dir", "sink.db"),
  async admin() {
    const db = new Database(file, { timeout: 5_000 });
    return {
      async exec(sql) {
        db.exec(sql);
      },
      async rows(sql) {
        return db.prepare(sql).all() as Array<Record<string, unknown>>;
      },
      async close() {
        db.close();
      },
    };
  },
  createTable: (table) =>
    `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, active INTEGER, note BLOB) STRICT`,
  failPositionsFor: (trigger, connectorName) => [
    `CREATE TRIGGER ${trigger} BEFORE INSERT ON pulsar_connect_positions WHEN NEW.connector_name = '${connectorName}' BEGIN SELECT RAISE(ABORT, 'positions refused'); END`,
  ],
  dropTrigger: (trigger) => `DROP TRIGGER IF EXISTS ${trigger}`,
});

describe("SQLite sink when the connection is lost while committing (failure injected after COMMIT)", () => {
  // No real server can drop an embedded database's connection at this exact point, so the connection is wrapped:
  // COMMIT runs for real, then the wrapper reports a lost connection as a driver would.
  function losingCommits(outcome: { lose: boolean; committed: boolean }) {
    const dialect: SqlDialect = {
      ...sqliteDialect,
      async connect(config, url) {
        const connection = await sqliteDialect.connect(config, url);
        return {
          async execute(sql, params) {
            if (sql === "COMMIT" && outcome.lose) {
              outcome.lose = false;
              if (outcome.committed) await connection.execute(sql, params);
              else await connection.execute("ROLLBACK");
              throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
            }
            return connection.execute(sql, params);
          },
          close: () => connection.close(),
        };
      },
    };
    return defineJdbcSink({ name: "jdbc-sqlite", description: "test", dialect });
  }

  for (const committed of [true, false]) {
    it(`writes the retried batch exactly once when the commit ${committed ? "went through" : "was lost"}`, async () => {
      const db = new Database(file);
      const table = `pc_commit_${committed ? "ok" : "lost"}_${Date.now().toString(36)}`;
      db.exec(`CREATE TABLE ${table} (id INTEGER NOT NULL, name TEXT)`);
      const outcome = { lose: false, committed };
      const definition = losingCommits(outcome);
      const sink = await definition.open(
        loadConfig(definition.config, { jdbcUrl: file, tableName: table }),
        createSinkContext({ name: `commit-${committed}` }).context,
      );
      await sink.write(makeSinkRecords([{ value: { id: 1 } }], { firstEntryId: 0n }));
      const batch = makeSinkRecords([{ value: { id: 2 } }, { value: { id: 3 } }], { firstEntryId: 1n });
      outcome.lose = true;
      const error = await sink.write(batch).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
      // The runtime retries the same batch.
      await sink.write(batch);
      await sink.write(makeSinkRecords([{ value: { id: 4 } }], { firstEntryId: 3n }));
      const ids = (db.prepare(`SELECT id FROM ${table} ORDER BY id`).all() as Array<{ id: number }>).map(
        (row) => row.id,
      );
      expect(ids).toEqual([1, 2, 3, 4]);
      expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(3n);
      await sink.close();
      db.close();
    });
  }
});

describe("SQLite sink transactions and stored positions", () => {
  const open = async (table: string, name: string, extra: Record<string, unknown> = {}, effectivelyOnce = false) => {
    const context = createSinkContext({ name }).context;
    return jdbcSqliteSink.open(
      loadConfig(jdbcSqliteSink.config, { jdbcUrl: file, tableName: table, ...extra }),
      effectivelyOnce ? { ...context, processingGuarantee: "EFFECTIVELY_ONCE" } : context,
    );
  };
  const ids = (db: Database.Database, table: string) =>
    (db.prepare(`SELECT id FROM ${table} ORDER BY id`).all() as Array<{ id: number }>).map((row) => row.id);

  it("with maxQueueSize, a failed later transaction leaves the committed ones out of the retry", async () => {
    const db = new Database(file);
    const table = `pc_slices_${Date.now().toString(36)}`;
    db.exec(`CREATE TABLE ${table} (id INTEGER NOT NULL, qty INTEGER)`);
    const name = `slices-${Date.now().toString(36)}`;
    const sink = await open(table, name, { maxQueueSize: 3 });
    // The second transaction (entries 3-5) cannot store its position, once.
    const trigger = `pc_fail_${Date.now().toString(36)}`;
    db.exec(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON pulsar_connect_positions WHEN NEW.connector_name = 'public/default/${name}' AND NEW.entry_id = 5 BEGIN SELECT RAISE(ABORT, 'positions refused'); END`,
    );
    const batch = makeSinkRecords(
      Array.from({ length: 8 }, (_, i) => ({ value: { id: i + 1, qty: i } })),
      { firstEntryId: 0n },
    );
    const outcome = await sink.write(batch);
    db.exec(`DROP TRIGGER ${trigger}`);
    expect(outcome?.failed.map((failure) => failure.index)).toEqual([3, 4, 5, 6, 7]);
    expect(outcome?.failed.every((failure) => (failure.error as { retryable?: boolean }).retryable)).toBe(true);
    // The runtime retries just the failed records.
    expect(await sink.write(batch.slice(3))).toBeUndefined();
    expect(ids(db, table)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await sink.close();
    db.close();
  });

  it("under EFFECTIVELY_ONCE, a refused record is never covered by a stored position before it is settled", async () => {
    const db = new Database(file);
    const table = `pc_refused_${Date.now().toString(36)}`;
    db.exec(`CREATE TABLE ${table} (id INTEGER NOT NULL, qty INTEGER) STRICT`);
    const sink = await open(table, `refused-${Date.now().toString(36)}`, {}, true);
    const batch = makeSinkRecords(
      [
        { value: { id: 1, qty: 1 } },
        { value: { id: 2, qty: "not a number" } },
        { value: { id: 3, qty: 3 } },
        { value: { id: 4, colour: "red" } },
        { value: { id: 5, qty: 5 } },
      ],
      { firstEntryId: 0n },
    );
    const first = await sink.write(batch);
    expect(
      first?.failed.map((failure) => [failure.index, (failure.error as { retryable?: boolean }).retryable]),
    ).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [4, true],
    ]);
    expect(ids(db, table)).toEqual([1]);
    expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(0n);
    // The runtime dead-letters record 1, then writes the rest again.
    const second = await sink.write(batch.slice(2));
    expect(second?.failed.map((failure) => failure.index)).toEqual([1, 2]);
    expect(ids(db, table)).toEqual([1, 3]);
    expect(await sink.write(batch.slice(4))).toBeUndefined();
    expect(ids(db, table)).toEqual([1, 3, 5]);
    expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(4n);
    await sink.close();
    db.close();
  });
});
