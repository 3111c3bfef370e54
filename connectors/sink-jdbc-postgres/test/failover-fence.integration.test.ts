// Two instances of one EFFECTIVELY_ONCE sink that both hold the same records: what happens at a Failover switch,
// when the instance that lost a partition still finishes a write the new owner has already made (or the new owner
// loaded the positions before the old one committed). The stored position, read under a row lock inside the write's
// own transaction, decides: records it covers are not written again.
import { randomUUID } from "node:crypto";
import { loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import jdbcPostgresSink from "../src/index.ts";

const endpoint = inject("services").postgres;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 5432;
const user = endpoint?.user ?? "postgres";
const database = endpoint?.database ?? "test";
const admin = new pg.Client({ host, port, user, database });
const tables: string[] = [];

beforeAll(async () => {
  await admin.connect();
});

afterAll(async () => {
  for (const table of tables) {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DELETE FROM pulsar_connect_positions WHERE connector_name = $1`, [`public/default/${table}`]);
  }
  await admin.end();
});

async function freshTable(): Promise<string> {
  const table = `pc_fence_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
  tables.push(table);
  // No key: a record written twice is a second row.
  await admin.query(`CREATE TABLE ${table} (id INTEGER NOT NULL, name TEXT)`);
  return table;
}

/** One instance of the connector `table` (the connector name is the table's, so positions are this test's alone). */
async function instance(table: string, instanceId: number): Promise<SinkInstance> {
  const handle = createSinkContext({
    name: table,
    instanceId,
    numInstances: 2,
    processingGuarantee: "EFFECTIVELY_ONCE",
  });
  const config = loadConfig(jdbcPostgresSink.config, {
    jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}`,
    userName: user,
    tableName: table,
  });
  return jdbcPostgresSink.open(config, handle.context);
}

const records = (from: number, count: number) =>
  makeSinkRecords(
    Array.from({ length: count }, (_, i) => ({ value: { id: from + i, name: `row ${from + i}` } })),
    { ledgerId: 77n, firstEntryId: BigInt(from) },
  );

async function ids(table: string): Promise<number[]> {
  const { rows } = await admin.query(`SELECT id FROM ${table} ORDER BY id`);
  return rows.map((row: { id: number }) => row.id);
}

describe("EFFECTIVELY_ONCE JDBC sink instances that both hold the same records", () => {
  it("does not write again what the other instance committed, and writes what lies beyond it", async () => {
    const table = await freshTable();
    const oldOwner = await instance(table, 0);
    const newOwner = await instance(table, 1);
    try {
      expect((await newOwner.write(records(0, 10)))?.failed ?? []).toEqual([]);
      // The old owner finishes its write of the same records, and of five more, after the new owner's commit.
      expect((await oldOwner.write(records(0, 10)))?.failed ?? []).toEqual([]);
      expect((await oldOwner.write(records(5, 10)))?.failed ?? []).toEqual([]);
      expect(await ids(table)).toEqual(Array.from({ length: 15 }, (_, i) => i));
      // The stored position never moves back: the new owner's stale write of 0..9 now writes nothing.
      expect((await newOwner.write(records(0, 10)))?.failed ?? []).toEqual([]);
      expect(await ids(table)).toEqual(Array.from({ length: 15 }, (_, i) => i));
      const { rows } = await admin.query(`SELECT entry_id FROM pulsar_connect_positions WHERE connector_name = $1`, [
        `public/default/${table}`,
      ]);
      expect(rows.map((row: { entry_id: string }) => Number(row.entry_id))).toEqual([14]);
    } finally {
      await oldOwner.close();
      await newOwner.close();
    }
  });

  it("writes each record once when both write the same records at the same moment, the very first time", async () => {
    const table = await freshTable();
    const [a, b] = await Promise.all([instance(table, 0), instance(table, 1)]);
    try {
      const batch = records(0, 200);
      const results = await Promise.all([a.write(batch), b.write(batch)]);
      for (const result of results) expect(result?.failed ?? []).toEqual([]);
      expect(await ids(table)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
