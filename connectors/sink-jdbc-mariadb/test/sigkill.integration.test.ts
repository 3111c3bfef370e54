import { join } from "node:path";
import mysql from "mysql2/promise";
import { inject } from "vitest";
import { describeSigkill } from "../../../packages/jdbc-common/test/sigkill-suite.ts";

const services = inject("services");
const host = services.mariadb?.host ?? "127.0.0.1";
const port = services.mariadb?.port ?? 3306;
const user = services.mariadb?.user ?? "root";
const password = services.mariadb?.password ?? "";
const database = services.mariadb?.database ?? "test";
const admin = mysql.createConnection({ host, port, user, password, database });

describeSigkill({
  label: "jdbc-mariadb",
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  pulsar: services.pulsar,
  async prepare(table) {
    await (await admin).query(`CREATE TABLE ${table} (id INT NOT NULL, name VARCHAR(100)) ENGINE=InnoDB`);
    return { jdbcUrl: `jdbc:mariadb://${host}:${port}/${database}`, userName: user, password, tableName: table };
  },
  async summarize(table) {
    const [rows] = await (await admin).query(
      `SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high FROM ${table}`,
    );
    const row = (rows as Array<Record<string, unknown>>)[0] ?? {};
    return { n: Number(row.n), ids: Number(row.ids), low: Number(row.low), high: Number(row.high) };
  },
  async drop(table) {
    await (await admin).query(`DROP TABLE ${table}`);
  },
  async close() {
    await (await admin).end();
  },
});
