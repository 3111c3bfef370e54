// PostgreSQL goes away while the source streams: a private cluster with wal_level=logical (its own port and folder,
// started and stopped by this file through tooling/services) is stopped under the source and started again.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { eventOf, type Opened, openSource, readRecords, uniqueName } from "./cdc.ts";

const runDir = join(import.meta.dirname, "../../../.run/cdc-outage-services");
process.env.PC_SERVICES_RUN = runDir;
process.env.PG_LOGICAL_PORT = "7533";
const { ensureServices, stopServices } = await import("@pulsar-connect/services");

let connectionString = "";

async function up(): Promise<void> {
  const endpoints = await ensureServices(["postgres-logical"]);
  connectionString = endpoints["postgres-logical"].connectionString;
}

async function query(text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await up();
});

afterAll(async () => {
  await stopServices(["postgres-logical"]);
  rmSync(runDir, { recursive: true, force: true });
});

describe("debezium-postgres when PostgreSQL goes away", () => {
  it("stops with a status, refuses to open while the server is down (retryable), and loses nothing after it is back", async () => {
    const table = uniqueName("outage");
    await query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    const configs = {
      "database.hostname": "127.0.0.1",
      "database.port": 7533,
      "database.user": "postgres",
      "database.dbname": "test",
      "topic.prefix": "outage",
      "slot.name": uniqueName("slot"),
      "publication.name": uniqueName("pub"),
      "publication.autocreate.mode": "filtered",
      "table.include.list": `public.${table}`,
      "snapshot.mode": "no_data",
      "status.update.interval.ms": 200,
      "poll.interval.ms": 100,
    };
    const first: Opened = await openSource(configs);
    await query(`INSERT INTO ${table} SELECT generate_series(1, 3)`);
    const unacked = await readRecords(first, 3, { ack: false });
    expect(unacked).toHaveLength(3);

    // The connection drops, then the server goes down.
    await query("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", [
      configs["slot.name"],
    ]);
    await stopServices(["postgres-logical"]);
    await expect
      .poll(async () => {
        try {
          await first.source.read({ maxRecords: 1, signal: first.handle.abort.signal });
          return "reading";
        } catch (error) {
          return (error as Error).message;
        }
      })
      .toMatch(/replication stream|PostgreSQL ended|cannot reach/);
    expect(first.handle.fatalErrors).toHaveLength(1);
    await first.source.close();

    const whileDown = createSourceContext();
    const refused = await definition.open(loadConfig(definition.config, configs), whileDown.context).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConnectorError);
    expect((refused as ConnectorError).code).toBe("CONNECTION_FAILED");
    expect((refused as ConnectorError).retryable).toBe(true);

    await up();
    const second = await openSource(configs, first.handle);
    const again = await readRecords(second, 3);
    expect(again.map((record) => record.sequence)).toEqual(unacked.map((record) => record.sequence));
    await query(`INSERT INTO ${table} VALUES (4)`);
    const [fourth] = await readRecords(second, 1);
    expect(eventOf(fourth as never).after).toEqual({ id: 4 });
    await second.source.close();
    await query("SELECT pg_drop_replication_slot($1)", [configs["slot.name"]]);
  });
});
