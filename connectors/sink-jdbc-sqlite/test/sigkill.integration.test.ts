import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { inject } from "vitest";
import { describeSigkill } from "../../../packages/jdbc-common/test/sigkill-suite.ts";

const dir = mkdtempSync(join(tmpdir(), "jdbc-sqlite-sigkill-"));
const file = join(dir, "sink.db");
const db = new Database(file);

describeSigkill({
  label: "jdbc-sqlite",
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  pulsar: inject("services").pulsar,
  async prepare(table) {
    db.exec(`CREATE TABLE ${table} (id INTEGER NOT NULL, name TEXT)`);
    return { jdbcUrl: `jdbc:sqlite:${file}`, tableName: table };
  },
  async summarize(table) {
    return db
      .prepare(`SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high FROM ${table}`)
      .get() as {
      n: number;
      ids: number;
      low: number;
      high: number;
    };
  },
  async drop(table) {
    db.exec(`DROP TABLE ${table}`);
  },
  async close() {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  },
});
