// Real-world change data capture cases against a PostgreSQL cluster with wal_level=logical (tooling/services'
// postgres-logical): the Debezium envelope of snapshot and stream, TOAST, replica identity, value types, ALTER TABLE
// while streaming, truncates, acknowledgement and restart, a dropped slot and an idle slot under heartbeats.
import { randomBytes } from "node:crypto";
import { loadConfig } from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import {
  cdcConfig,
  dropReplicationObjects,
  eventOf,
  eventText,
  keyOf,
  type Opened,
  openSource,
  readRecords,
  sql,
  uniqueName,
} from "./cdc.ts";

const created: Array<Record<string, unknown>> = [];
const opened: Opened[] = [];
let client: Awaited<ReturnType<typeof sql>>;

beforeAll(async () => {
  client = await sql();
});

afterAll(async () => {
  for (const { source } of opened) await source.close().catch(() => undefined);
  await dropReplicationObjects(created);
  await client.end();
});

async function table(columns: string): Promise<string> {
  const name = uniqueName("t");
  await client.query(`CREATE TABLE ${name} (${columns})`);
  return name;
}

async function start(name: string, extra: Record<string, unknown> = {}, earlier?: Opened): Promise<Opened> {
  const configs = cdcConfig(name, extra);
  created.push(configs);
  const source = await openSource(configs, earlier?.handle);
  opened.push(source);
  return source;
}

/** Opens on the same slot and state as `earlier` (which must be closed). */
async function reopen(configs: Record<string, unknown>, earlier: Opened): Promise<Opened> {
  const source = await openSource(configs, earlier.handle);
  opened.push(source);
  return source;
}

describe("debezium-postgres change events", () => {
  it("snapshots existing rows (op r), then streams inserts, updates and deletes with Debezium's envelope", async () => {
    const name = await table("id int PRIMARY KEY, name text");
    await client.query(`INSERT INTO ${name} VALUES (1, 'one'), (2, 'two')`);
    const cdc = await start(name);
    const snapshot = await readRecords(cdc, 2);
    expect(snapshot.map((record) => eventOf(record).op)).toEqual(["r", "r"]);
    expect(snapshot.map(keyOf)).toEqual(['{"id":1}', '{"id":2}']);
    expect(snapshot[0]?.destinationTopic).toBe(`cdctest.public.${name}`);
    expect(eventOf(snapshot[0] as never)).toMatchObject({
      before: null,
      after: { id: 1, name: "one" },
      source: { connector: "postgresql", name: "cdctest", db: "test", schema: "public", table: name, snapshot: "true" },
    });

    await client.query(`INSERT INTO ${name} VALUES (3, 'three')`);
    await client.query(`UPDATE ${name} SET name = 'uno' WHERE id = 1`);
    await client.query(`DELETE FROM ${name} WHERE id = 2`);
    const stream = await readRecords(cdc, 3);
    expect(stream.map((record) => [eventOf(record).op, keyOf(record)])).toEqual([
      ["c", '{"id":3}'],
      ["u", '{"id":1}'],
      ["d", '{"id":2}'],
    ]);
    const [insert, update, remove] = stream.map(eventOf);
    expect(insert).toMatchObject({ before: null, after: { id: 3, name: "three" }, source: { snapshot: "false" } });
    // REPLICA IDENTITY DEFAULT: no old row for an update; only the key of a deleted row.
    expect(update).toMatchObject({ before: null, after: { id: 1, name: "uno" } });
    expect(remove).toMatchObject({ before: { id: 2, name: null }, after: null });
    const source = insert?.source as { lsn: number; txId: number; sequence: string; ts_ms: number };
    expect(source.lsn).toBeGreaterThan(0);
    expect(source.txId).toBeGreaterThan(0);
    expect(JSON.parse(source.sequence)).toHaveLength(2);
    expect(Math.abs(source.ts_ms - Date.now())).toBeLessThan(60_000);
    expect(stream.every((record) => typeof record.sequence === "bigint")).toBe(true);
    expect((stream[1]?.sequence as bigint) > (stream[0]?.sequence as bigint)).toBe(true);
  });

  it("REPLICA IDENTITY FULL gives the whole old row on update and delete", async () => {
    const name = await table("id int PRIMARY KEY, name text, qty int");
    await client.query(`ALTER TABLE ${name} REPLICA IDENTITY FULL`);
    const cdc = await start(name, { "snapshot.mode": "no_data" });
    await client.query(`INSERT INTO ${name} VALUES (1, 'a', 5)`);
    await client.query(`UPDATE ${name} SET qty = 6 WHERE id = 1`);
    await client.query(`DELETE FROM ${name} WHERE id = 1`);
    const events = (await readRecords(cdc, 3)).map(eventOf);
    expect(events.map((event) => event.op)).toEqual(["c", "u", "d"]);
    expect(events[1]).toMatchObject({ before: { id: 1, name: "a", qty: 5 }, after: { id: 1, name: "a", qty: 6 } });
    expect(events[2]).toMatchObject({ before: { id: 1, name: "a", qty: 6 }, after: null });
  });

  it("marks a TOASTed column that an update left unchanged with the placeholder", async () => {
    const name = await table("id int PRIMARY KEY, big text, n int");
    const cdc = await start(name, { "snapshot.mode": "no_data" });
    // Random text does not compress, so it is stored out of line (TOAST).
    const big = randomBytes(20_000).toString("hex");
    await client.query(`INSERT INTO ${name} VALUES (1, $1, 1)`, [big]);
    await client.query(`UPDATE ${name} SET n = 2 WHERE id = 1`);
    const [insert, update] = (await readRecords(cdc, 2)).map(eventOf);
    expect(insert?.after?.big).toBe(big);
    expect(update?.after).toEqual({ id: 1, big: "__debezium_unavailable_value", n: 2 });
  });

  it("converts numeric, json, jsonb, arrays, timestamps with zones, bytea and bigint the same in snapshot and stream", async () => {
    const name = await table(
      "id int PRIMARY KEY, price numeric(10,2), ratio numeric, doc json, docb jsonb, tags text[], nums int[], at timestamptz, local timestamp, day date, bin bytea, big bigint, flag boolean",
    );
    const values =
      "1, 12.34, 1.5, '{\"a\": 1}', '{\"b\": [1, 2]}', ARRAY['x', 'y z'], ARRAY[1, NULL, 3], " +
      "'2024-03-01 12:30:00.25+02', '2024-03-01 10:00:00.000001', '2024-03-01', '\\x01ff', 9007199254740993, true";
    await client.query(`INSERT INTO ${name} VALUES (${values})`);
    const cdc = await start(name, { "decimal.handling.mode": "string" });
    const [snapshotted] = await readRecords(cdc, 1);
    await client.query(`INSERT INTO ${name} VALUES (${values.replace(/^1,/, "2,")})`);
    const [streamed] = await readRecords(cdc, 1);
    const expected = {
      price: "12.34",
      ratio: "1.5",
      doc: '{"a": 1}',
      docb: '{"b": [1, 2]}',
      tags: ["x", "y z"],
      nums: [1, null, 3],
      at: "2024-03-01T10:30:00.25Z",
      local: Date.UTC(2024, 2, 1, 10) * 1000 + 1,
      day: Date.UTC(2024, 2, 1) / 86_400_000,
      bin: Buffer.from([1, 255]).toString("base64"),
      flag: true,
    };
    expect(eventOf(snapshotted as never).after).toMatchObject({ id: 1, ...expected });
    expect(eventOf(streamed as never).after).toMatchObject({ id: 2, ...expected });
    // 2^53 + 1 survives: the JSON text holds the exact digits.
    expect(eventText(streamed as never)).toContain('"big":9007199254740993');
    expect(eventText(snapshotted as never)).toContain('"big":9007199254740993');
  });

  it("follows ALTER TABLE while streaming", async () => {
    const name = await table("id int PRIMARY KEY, name text");
    const cdc = await start(name, { "snapshot.mode": "no_data" });
    await client.query(`INSERT INTO ${name} VALUES (1, 'before')`);
    expect(eventOf((await readRecords(cdc, 1))[0] as never).after).toEqual({ id: 1, name: "before" });
    await client.query(`ALTER TABLE ${name} ADD COLUMN price numeric(6,2) DEFAULT 0, DROP COLUMN name`);
    await client.query(`INSERT INTO ${name} VALUES (2, 9.5)`);
    const [after] = await readRecords(cdc, 1);
    expect(eventOf(after as never).after).toEqual({ id: 2, price: Buffer.from([0x03, 0xb6]).toString("base64") });
  });

  it("skips truncates by default and sends them (op t) with skipped.operations=none", async () => {
    const name = await table("id int PRIMARY KEY");
    const skipping = await start(name, { "snapshot.mode": "no_data" });
    const sending = await start(name, { "snapshot.mode": "no_data", "skipped.operations": "none" });
    await client.query(`INSERT INTO ${name} VALUES (1)`);
    await client.query(`TRUNCATE ${name}`);
    await client.query(`INSERT INTO ${name} VALUES (2)`);
    expect((await readRecords(skipping, 2)).map((record) => eventOf(record).op)).toEqual(["c", "c"]);
    const sent = await readRecords(sending, 3);
    expect(sent.map((record) => eventOf(record).op)).toEqual(["c", "t", "c"]);
    expect(eventOf(sent[1] as never)).toMatchObject({ before: null, after: null });
  });

  it("after a restart, gives again exactly what was not acknowledged, with the same sequence ids", async () => {
    const name = await table("id int PRIMARY KEY");
    const first = await start(name, { "snapshot.mode": "no_data" });
    await client.query(`INSERT INTO ${name} SELECT generate_series(1, 3)`);
    await client.query(`INSERT INTO ${name} SELECT generate_series(4, 6)`);
    const all = await readRecords(first, 6, { ack: false });
    // Acks the first transaction only.
    for (const record of all.slice(0, 3)) await record.ack?.();
    await first.source.close();
    const configs = created.at(-1) as Record<string, unknown>;
    const second = await reopen(configs, first);
    const again = await readRecords(second, 3);
    expect(again.map((record) => record.sequence)).toEqual(all.slice(3).map((record) => record.sequence));
    expect(again.map(keyOf)).toEqual(['{"id":4}', '{"id":5}', '{"id":6}']);
    await second.source.close();
    const third = await reopen(configs, second);
    expect(await readRecords(third, 1, { timeoutMs: 1500 })).toEqual([]);
  });

  it("a table dropped during the snapshot stops the instance, which then resumes after the last acknowledged row", async () => {
    const base = uniqueName("snap");
    await client.query(`CREATE TABLE ${base}_a (id int PRIMARY KEY)`);
    await client.query(`CREATE TABLE ${base}_b (id int PRIMARY KEY)`);
    await client.query(`INSERT INTO ${base}_a SELECT generate_series(1, 100)`);
    await client.query(`INSERT INTO ${base}_b SELECT generate_series(1, 10)`);
    const configs = cdcConfig(`${base}_.*`, { "snapshot.fetch.size": 10 });
    created.push(configs);
    const first = await openSource(configs);
    opened.push(first);
    const acked = await readRecords(first, 30);
    await client.query(`DROP TABLE ${base}_b`);
    const more: string[] = [];
    await expect(
      (async () => {
        for (;;) {
          for (const record of (await first.source.read({ maxRecords: 10, signal: first.handle.abort.signal })) ?? []) {
            more.push(keyOf(record) as string);
          }
        }
      })(),
    ).rejects.toThrow(/snapshot read failed/);
    expect(first.handle.fatalErrors).toHaveLength(1);
    await first.source.close();
    const second = await reopen(configs, first);
    const rest = await readRecords(second, 70);
    const ids = [...acked, ...rest].map((record) => (eventOf(record).after as { id: number }).id);
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await readRecords(second, 1, { timeoutMs: 1000 })).toEqual([]);
  });

  it("refuses a parallelism above 1 (one slot, one reader)", async () => {
    const name = await table("id int PRIMARY KEY");
    const configs = cdcConfig(name);
    const handle = createSourceContext({ numInstances: 2 });
    await expect(definition.open(loadConfig(definition.config, configs), handle.context)).rejects.toThrow(
      /parallelism is 2/,
    );
  });

  it("refuses to start on a slot that was dropped underneath, saying what was lost", async () => {
    const name = await table("id int PRIMARY KEY");
    const first = await start(name, { "snapshot.mode": "no_data" });
    await first.source.close();
    const configs = created.at(-1) as Record<string, unknown>;
    await client.query("SELECT pg_drop_replication_slot($1)", [configs["slot.name"]]);
    await expect(reopen(configs, first)).rejects.toThrow(/was dropped: the changes it held after .* are lost/);
  });

  it("stops with a status when the slot is dropped while streaming", async () => {
    const name = await table("id int PRIMARY KEY");
    const cdc = await start(name, { "snapshot.mode": "no_data" });
    const configs = created.at(-1) as Record<string, unknown>;
    await client.query("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", [
      configs["slot.name"],
    ]);
    await expect
      .poll(async () => {
        try {
          await cdc.source.read({ maxRecords: 1, signal: cdc.handle.abort.signal });
          return "reading";
        } catch (error) {
          return (error as Error).message;
        }
      })
      .toMatch(/replication stream/);
    expect(cdc.handle.fatalErrors.length).toBe(1);
  });

  it("with heartbeats, an idle slot follows the server's WAL while other tables are written", async () => {
    const name = await table("id int PRIMARY KEY");
    const other = await table("id int, pad text");
    const cdc = await start(name, { "snapshot.mode": "no_data", "heartbeat.interval.ms": 200 });
    const configs = created.at(-1) as Record<string, unknown>;
    await client.query(`INSERT INTO ${other} SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g`);
    const written = (await client.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn;
    const behind = async () =>
      Number(
        (
          await client.query<{ behind: string }>(
            "SELECT pg_wal_lsn_diff($1, confirmed_flush_lsn)::text AS behind FROM pg_replication_slots WHERE slot_name = $2",
            [written, configs["slot.name"]],
          )
        ).rows[0]?.behind,
      );
    const heartbeats: string[] = [];
    await expect
      .poll(
        async () => {
          for (const record of (await cdc.source.read({ maxRecords: 10, signal: cdc.handle.abort.signal })) ?? []) {
            heartbeats.push(record.destinationTopic as string);
            await record.ack?.();
          }
          return behind();
        },
        { timeout: 30_000 },
      )
      .toBeLessThanOrEqual(0);
    expect(heartbeats[0]).toBe("__debezium-heartbeat.cdctest");
  });
});
