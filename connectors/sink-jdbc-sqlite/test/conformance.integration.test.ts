import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import Database from "better-sqlite3";
import { afterAll, inject } from "vitest";
import jdbcSqliteSink from "../src/index.ts";

const services = inject("services");
const pulsar = services.pulsar;
if (pulsar === undefined) throw new Error("test/services.json must list pulsar: the conformance suite needs a broker");
const dir = mkdtempSync(join(tmpdir(), "jdbc-sqlite-conformance-"));
const file = join(dir, "conformance.db");
const admin = new Database(file);
afterAll(() => {
  admin.close();
  rmSync(dir, { recursive: true, force: true });
});

describeSinkConformance("jdbc-sqlite", {
  definition: jdbcSqliteSink,
  async config() {
    // No unique key: a record written twice would show up twice.
    const tableName = `pc_conf_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    admin.exec(`CREATE TABLE ${tableName} (id INTEGER NOT NULL, name TEXT)`);
    return { jdbcUrl: `jdbc:sqlite:${file}`, tableName };
  },
  invalidConfig: {
    configs: { jdbcUrl: "jdbc:postgresql://localhost/x", insertMode: "MERGE" },
    paths: ["configs.tableName", "configs.insertMode"],
  },
  value: (id) => ({ id, name: `row ${id}` }),
  duplicatesVisible: true,
  async readBack(configs) {
    return (admin.prepare(`SELECT id FROM ${String(configs.tableName)}`).all() as Array<{ id: number }>).map(
      (row) => row.id,
    );
  },
  pulsar: { serviceUrl: pulsar.serviceUrl, adminUrl: pulsar.webServiceUrl },
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
