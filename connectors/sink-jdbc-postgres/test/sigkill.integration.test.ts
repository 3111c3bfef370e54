import { join } from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { describeSigkill } from "../../../packages/jdbc-common/test/sigkill-suite.ts";

const services = inject("services");
const host = services.postgres?.host ?? "127.0.0.1";
const port = services.postgres?.port ?? 5432;
const user = services.postgres?.user ?? "postgres";
const database = services.postgres?.database ?? "test";
const admin = new pg.Client({ host, port, user, database });
const connected = admin.connect();

describeSigkill({
  label: "jdbc-postgres",
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  pulsar: services.pulsar,
  async prepare(table) {
    await connected;
    await admin.query(`CREATE TABLE ${table} (id INTEGER NOT NULL, name TEXT)`);
    return { jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}`, userName: user, tableName: table };
  },
  async summarize(table) {
    const { rows } = await admin.query(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, min(id) AS low, max(id) AS high FROM ${table}`,
    );
    return rows[0] as { n: number; ids: number; low: number; high: number };
  },
  async drop(table) {
    await admin.query(`DROP TABLE ${table}`);
  },
  async close() {
    await admin.end();
  },
});
