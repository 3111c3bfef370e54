// The PostgreSQL source runs through the runtime in a child process and SIGKILLs itself at a seeded Pulsar send
// whose receipt is pending: in the middle of one large transaction, and in the middle of the initial snapshot. It is
// started again on the same slot and state. What reaches Pulsar must match the guarantee, row by row.
// PC_CRASH_SEED=<n> replays a run (the seed is printed).
import { join } from "node:path";
import { PulsarAdmin } from "@pulsar-connect/pulsar-client";
import {
  crashSeed,
  createDedupNamespace,
  exited,
  killPoint,
  type SourceProcessSettings,
  startSourceProcess,
  storedCount,
  storedIds,
} from "@pulsar-connect/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cdcConfig, dropReplicationObjects, pulsarEndpoints, sql, uniqueName } from "./cdc.ts";

const LARGE_TRANSACTION = 100_000;
const SNAPSHOT_ROWS = 30_000;
const seed = crashSeed();

const { serviceUrl, adminUrl } = pulsarEndpoints();
const run = Date.now().toString(36);
const created: Array<Record<string, unknown>> = [];
let db: Awaited<ReturnType<typeof sql>>;

beforeAll(async () => {
  process.stdout.write(`postgres cdc crash tests: kill points from PC_CRASH_SEED=${seed}\n`);
  db = await sql();
});

afterAll(async () => {
  await dropReplicationObjects(created);
  await db?.end();
});

async function namespace(deduplication: boolean): Promise<string> {
  const name = `cdc-crash-${uniqueName(run)}`;
  if (deduplication) return createDedupNamespace(adminUrl, name);
  const namespace = `public/${name.replace(/[^a-zA-Z0-9-]/g, "-")}`;
  await new PulsarAdmin({ serviceUrl: adminUrl }).createNamespace(namespace);
  return namespace;
}

async function slotActive(slot: string): Promise<boolean> {
  const result = await db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active", [slot]);
  return result.rowCount === 1;
}

interface Scenario {
  guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE";
  /** Rows in the table before the first start (snapshotted). */
  before: number;
  /** Rows inserted in one transaction once the first process streams. */
  during: number;
  salt: number;
}

async function killAndRestart(scenario: Scenario) {
  const table = uniqueName("crash");
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, pad text)`);
  if (scenario.before > 0) {
    await db.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, $1) g`, [scenario.before]);
  }
  const ns = await namespace(scenario.guarantee === "EFFECTIVELY_ONCE");
  const configs = cdcConfig(table, { "snapshot.fetch.size": 2000 });
  created.push(configs);
  const topic = `persistent://${ns}/cdctest.public.${table}`;
  const total = scenario.before + scenario.during;
  const [tenant, nsName] = ns.split("/") as [string, string];
  const name = `cdc-${table}`.replaceAll("_", "-");
  const settings: SourceProcessSettings = {
    connectorModule: join(import.meta.dirname, "../src/index.ts"),
    serviceUrl,
    adminUrl,
    secrets: {},
    guarantee: scenario.guarantee,
    tenant,
    namespace: nsName,
    topic: `persistent://${ns}/${name}-unused`,
    name,
    configs,
  };
  const killAtSend = killPoint(seed, total, scenario.salt);
  const first = startSourceProcess({ ...settings, killAtSend });
  if (scenario.during > 0) {
    await vi.waitFor(
      async () => expect(await slotActive(configs["slot.name"] as string), "the first process streams").toBe(true),
      {
        timeout: 60_000,
        interval: 250,
      },
    );
    await db.query(
      `INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series($1::int + 1, $1::int + $2::int) g`,
      [scenario.before, scenario.during],
    );
  }
  expect(await exited(first), "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  const atKill = await storedCount(adminUrl, topic);
  expect(atKill, "the kill lands before the end").toBeLessThan(total);
  const second = startSourceProcess(settings);
  await vi.waitFor(
    async () => expect(await slotActive(configs["slot.name"] as string), "the restarted process streams").toBe(true),
    {
      timeout: 60_000,
      interval: 250,
    },
  );
  // One more row after the restart: the stream goes on where it stopped.
  await db.query(`INSERT INTO ${table} VALUES ($1, 'after')`, [total + 1]);
  const end = (await db.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn;
  // Everything is in Pulsar once the slot confirmed the last insert: it confirms only what Pulsar acknowledged.
  await vi.waitFor(
    async () => {
      const confirmed = await db.query(
        "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn >= $2",
        [configs["slot.name"], end],
      );
      expect(confirmed.rowCount, "the slot confirmed the last row").toBe(1);
    },
    { timeout: 300_000, interval: 250 },
  );
  second.kill("SIGTERM");
  expect((await exited(second)).code).toBe(0);
  const { received, seen, repeated } = await storedIds(
    { serviceUrl, adminUrl },
    topic,
    (event) => (event as { after: { id: number } }).after.id,
  );
  return { killAtSend, atKill, total: total + 1, received, distinct: seen.size, repeated };
}

describe("PostgreSQL source killed by SIGKILL (runtime in a child process, real PostgreSQL and Pulsar)", () => {
  it(`EFFECTIVELY_ONCE: a SIGKILL inside a ${LARGE_TRANSACTION}-row transaction, each row exactly once`, {
    timeout: 600_000,
  }, async () => {
    const result = await killAndRestart({
      guarantee: "EFFECTIVELY_ONCE",
      before: 0,
      during: LARGE_TRANSACTION,
      salt: 1,
    });
    process.stdout.write(`cdc crash EFFECTIVELY_ONCE mid transaction: ${JSON.stringify(result)}\n`);
    expect(result.atKill).toBeGreaterThan(0);
    expect(result.distinct).toBe(result.total);
    expect(result.repeated).toBe(0);
    expect(result.received).toBe(result.total);
  });

  it(`EFFECTIVELY_ONCE: a SIGKILL halfway through a ${SNAPSHOT_ROWS}-row snapshot, each row exactly once`, {
    timeout: 600_000,
  }, async () => {
    const result = await killAndRestart({ guarantee: "EFFECTIVELY_ONCE", before: SNAPSHOT_ROWS, during: 0, salt: 2 });
    process.stdout.write(`cdc crash EFFECTIVELY_ONCE mid snapshot: ${JSON.stringify(result)}\n`);
    expect(result.atKill).toBeGreaterThan(0);
    expect(result.distinct).toBe(result.total);
    expect(result.repeated).toBe(0);
    expect(result.received).toBe(result.total);
  });

  it("ATLEAST_ONCE: a SIGKILL inside a 20000-row transaction loses no row", { timeout: 600_000 }, async () => {
    const result = await killAndRestart({ guarantee: "ATLEAST_ONCE", before: 0, during: 20_000, salt: 3 });
    process.stdout.write(`cdc crash ATLEAST_ONCE mid transaction: ${JSON.stringify(result)}\n`);
    expect(result.distinct).toBe(result.total);
    expect(result.received).toBeGreaterThanOrEqual(result.total);
  });

  it("ATLEAST_ONCE: a SIGKILL halfway through a 20000-row snapshot loses no row", { timeout: 600_000 }, async () => {
    const result = await killAndRestart({ guarantee: "ATLEAST_ONCE", before: 20_000, during: 0, salt: 4 });
    process.stdout.write(`cdc crash ATLEAST_ONCE mid snapshot: ${JSON.stringify(result)}\n`);
    expect(result.distinct).toBe(result.total);
    expect(result.received).toBeGreaterThanOrEqual(result.total);
  });
});
