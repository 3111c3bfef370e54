import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import pg from "pg";
import { afterAll, inject } from "vitest";
import jdbcPostgresSink from "../src/index.ts";

const services = inject("services");
const pulsar = services.pulsar;
if (pulsar === undefined) throw new Error("test/services.json must list pulsar: the conformance suite needs a broker");
const host = services.postgres?.host ?? "127.0.0.1";
const port = services.postgres?.port ?? 5432;
const user = services.postgres?.user ?? "postgres";
const database = services.postgres?.database ?? "test";
const admin = new pg.Client({ host, port, user, database });
const connected = admin.connect();
const tables: string[] = [];
afterAll(async () => {
  for (const table of tables) await admin.query(`DROP TABLE ${table}`);
  await admin.end();
});

describeSinkConformance("jdbc-postgres", {
  definition: jdbcPostgresSink,
  async config() {
    await connected;
    // No unique key: a record written twice would show up twice.
    const tableName = `pc_conf_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    tables.push(tableName);
    await admin.query(`CREATE TABLE ${tableName} (id INTEGER NOT NULL, name TEXT)`);
    return { jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}`, userName: user, tableName };
  },
  invalidConfig: {
    configs: { jdbcUrl: "jdbc:mysql://localhost/x", insertMode: "MERGE" },
    paths: ["configs.tableName", "configs.insertMode"],
  },
  value: (id) => ({ id, name: `row ${id}` }),
  duplicatesVisible: true,
  async readBack(configs) {
    const result = await admin.query(`SELECT id FROM ${String(configs.tableName)}`);
    return result.rows.map((row: { id: number }) => row.id);
  },
  pulsar: { serviceUrl: pulsar.serviceUrl, adminUrl: pulsar.webServiceUrl },
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
