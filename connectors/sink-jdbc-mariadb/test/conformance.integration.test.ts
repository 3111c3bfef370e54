import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import mysql from "mysql2/promise";
import { afterAll, inject } from "vitest";
import jdbcMariadbSink from "../src/index.ts";

const services = inject("services");
const pulsar = services.pulsar;
if (pulsar === undefined) throw new Error("test/services.json must list pulsar: the conformance suite needs a broker");
const host = services.mariadb?.host ?? "127.0.0.1";
const port = services.mariadb?.port ?? 3306;
const user = services.mariadb?.user ?? "root";
const password = services.mariadb?.password ?? "";
const database = services.mariadb?.database ?? "test";
const admin = mysql.createConnection({ host, port, user, password, database });
const tables: string[] = [];
afterAll(async () => {
  for (const table of tables) await (await admin).query(`DROP TABLE ${table}`);
  await (await admin).end();
});

describeSinkConformance("jdbc-mariadb", {
  definition: jdbcMariadbSink,
  async config() {
    // No unique key: a record written twice would show up twice.
    const tableName = `pc_conf_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    tables.push(tableName);
    await (await admin).query(`CREATE TABLE ${tableName} (id INT NOT NULL, name VARCHAR(100)) ENGINE=InnoDB`);
    return { jdbcUrl: `jdbc:mariadb://${host}:${port}/${database}`, userName: user, tableName };
  },
  secrets: { password },
  invalidConfig: {
    configs: { jdbcUrl: "jdbc:postgresql://localhost/x", insertMode: "MERGE" },
    paths: ["configs.tableName", "configs.insertMode"],
  },
  value: (id) => ({ id, name: `row ${id}` }),
  duplicatesVisible: true,
  async readBack(configs) {
    const [rows] = await (await admin).query(`SELECT id FROM ${String(configs.tableName)}`);
    return (rows as Array<{ id: number }>).map((row) => row.id);
  },
  pulsar: { serviceUrl: pulsar.serviceUrl, adminUrl: pulsar.webServiceUrl },
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
