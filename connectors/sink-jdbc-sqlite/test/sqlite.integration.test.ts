import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll } from "vitest";
import { describeJdbcSink } from "../../../packages/jdbc-common/test/sink-suite.ts";
import jdbcSqliteSink from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "jdbc-sqlite-"));
const file = join(dir, "sink.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeJdbcSink({
  label: "SQLite",
  definition: jdbcSqliteSink,
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
