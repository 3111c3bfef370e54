// MariaDB-specific behaviour of bulk writes: tables whose engine cannot roll back, statement sizes in bytes.
import { randomUUID } from "node:crypto";
import { loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords, type SinkRecordInit } from "@pulsar-connect/testkit";
import mysql from "mysql2/promise";
import { afterAll, describe, expect, inject, it } from "vitest";
import jdbcMariadbSink from "../src/index.ts";

const endpoint = inject("services").mariadb;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 3306;
const user = endpoint?.user ?? "root";
const password = endpoint?.password ?? "";
const database = endpoint?.database ?? "test";

const instances: SinkInstance[] = [];
const tables: string[] = [];
let admin: mysql.Connection | undefined;

async function db(): Promise<mysql.Connection> {
  admin ??= await mysql.createConnection({ host, port, user, password, database });
  return admin;
}

async function freshTable(ddl: (table: string) => string): Promise<string> {
  const table = `pc_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  tables.push(table);
  await (await db()).query(ddl(table));
  return table;
}

async function numbers(sql: string): Promise<number[]> {
  const [rows] = await (await db()).query(sql);
  return Object.values((rows as Array<Record<string, unknown>>)[0] ?? {}).map(Number);
}

async function open(raw: Record<string, unknown>, fatalErrors: unknown[] = []): Promise<SinkInstance> {
  const config = loadConfig(jdbcMariadbSink.config, {
    jdbcUrl: `jdbc:mariadb://${host}:${port}/${database}`,
    userName: user,
    password,
    ...raw,
  });
  const handle = createSinkContext({ name: `sink-${randomUUID().slice(0, 8)}` });
  const context = { ...handle.context, fatal: (error: unknown) => fatalErrors.push(error) };
  const sink = await jdbcMariadbSink.open(config, context);
  instances.push(sink);
  return sink;
}

afterAll(async () => {
  for (const sink of instances) await sink.close();
  for (const table of tables) await admin?.query(`DROP TABLE IF EXISTS ${table}`);
  await admin?.end();
});

describe("MariaDB bulk writes", () => {
  it.each(["MyISAM", "Aria"])(
    "on a %s table (no rollback), a run refused at its last row is written once and only that row is refused",
    async (engine) => {
      const table = await freshTable(
        (name) =>
          `CREATE TABLE ${name} (id INT, name VARCHAR(1000), u INT UNIQUE) ENGINE=${engine} DEFAULT CHARSET=utf8mb4`,
      );
      const sink = await open({ tableName: table });
      // About 5 MB of rows: more than one bulk statement. The last record repeats the first one's unique value.
      const count = 12_000;
      const inits: Array<SinkRecordInit<unknown>> = Array.from({ length: count }, (_, i) => ({
        value: { id: i, name: `${"x".repeat(400)}${i}`, u: i === 0 ? 1 : null },
      }));
      inits.push({ value: { id: count, name: "repeats u", u: 1 } });
      const outcome = await sink.write(makeSinkRecords(inits, { ledgerId: 7n, firstEntryId: 0n }));
      expect(outcome?.failed.map((failure) => failure.index)).toEqual([count]);
      expect(await numbers(`SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM ${table}`)).toEqual([count, count]);
    },
  );

  it("a refused run that a rollback cannot undo ends the instance instead of being written again", async () => {
    const table = await freshTable(
      (name) => `CREATE TABLE ${name} (id INT PRIMARY KEY, name VARCHAR(1000)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    // A trigger copying every row into a table that does not roll back: ROLLBACK TO SAVEPOINT leaves its rows.
    const copies = await freshTable((name) => `CREATE TABLE ${name} (id INT) ENGINE=MyISAM`);
    await (await db()).query(
      `CREATE TRIGGER ${table}_copy AFTER INSERT ON ${table} FOR EACH ROW INSERT INTO ${copies} VALUES (NEW.id)`,
    );
    const fatalErrors: unknown[] = [];
    const sink = await open({ tableName: table }, fatalErrors);
    const count = 12_000;
    const inits: Array<SinkRecordInit<unknown>> = Array.from({ length: count }, (_, i) => ({
      value: { id: i, name: `${"x".repeat(400)}${i}` },
    }));
    inits.push({ value: { id: 0, name: "repeats the first key" } });
    const batch = makeSinkRecords(inits, { ledgerId: 7n, firstEntryId: 0n });
    await expect(sink.write(batch)).rejects.toMatchObject({ code: "FATAL" });
    expect(fatalErrors).toHaveLength(1);
    expect(await numbers(`SELECT COUNT(*) AS n FROM ${table}`)).toEqual([0]);
    const [copied] = await numbers(`SELECT COUNT(*) AS n FROM ${copies}`);
    // Nothing was written a second time, and a later write is refused too.
    await expect(sink.write(batch.slice(0, 1))).rejects.toMatchObject({ code: "FATAL" });
    expect(await numbers(`SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM ${copies}`)).toEqual([copied, copied]);
  });
});
