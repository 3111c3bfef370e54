// The PostgreSQL source runs through the runtime in a child process and SIGKILLs itself at a seeded Pulsar send
// whose receipt is pending: in the middle of one large transaction, and in the middle of the initial snapshot. It is
// started again on the same slot and state. What reaches Pulsar must match the guarantee, row by row.
// PC_CRASH_SEED=<n> replays a run (the seed is printed).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cdcConfig, dropReplicationObjects, pulsarEndpoints, sql, uniqueName } from "./cdc.ts";

const LARGE_TRANSACTION = 100_000;
const SNAPSHOT_ROWS = 30_000;
const seed = Number(process.env.PC_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** A send number between 10% and 50% of `total`, from the seed. */
const killPoint = (total: number, salt: number) =>
  Math.floor(total / 10 + (((seed ^ (salt * 0x9e3779b9)) >>> 0) % Math.floor((total * 4) / 10)));

const { serviceUrl, adminUrl } = pulsarEndpoints();
const run = Date.now().toString(36);
const created: Array<Record<string, unknown>> = [];
let client: PulsarClient;
let db: Awaited<ReturnType<typeof sql>>;

beforeAll(async () => {
  process.stdout.write(`postgres cdc crash tests: kill points from PC_CRASH_SEED=${seed}\n`);
  client = new PulsarClient({ serviceUrl });
  db = await sql();
});

afterAll(async () => {
  await client?.close();
  await dropReplicationObjects(created);
  await db?.end();
});

async function admin(method: string, path: string, body?: unknown): Promise<number> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return (await fetch(`${adminUrl}${path}`, init)).status;
}

async function namespace(deduplication: boolean): Promise<string> {
  const name = `public/cdc-crash-${uniqueName(run)}`.replaceAll("_", "-");
  expect(await admin("PUT", `/admin/v2/namespaces/${name}`)).toBeLessThan(300);
  if (deduplication) expect(await admin("POST", `/admin/v2/namespaces/${name}/deduplication`, true)).toBeLessThan(300);
  return name;
}

function startChild(settings: Record<string, unknown>): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/source-child.ts")],
    {
      env: { ...process.env, PC_CDC_CHILD: JSON.stringify({ serviceUrl, adminUrl, ...settings }) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    if (!text.includes("Timeout") && !text.includes("trace-warnings")) process.stderr.write(`[child] ${text}`);
  });
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function storedCount(topic: string): Promise<number> {
  const response = await fetch(`${adminUrl}/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`);
  if (response.status !== 200) return 0;
  return ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
}

/** How often each row id is stored in the table's topic (reads exactly as many messages as the broker holds). */
async function idsIn(topic: string): Promise<{ received: number; distinct: number; repeated: number }> {
  const stored = await storedCount(topic);
  const consumer = await client.subscribe({
    topic,
    subscription: `verify-${run}`,
    subscriptionType: "Exclusive",
    subscriptionInitialPosition: "Earliest",
  });
  const seen = new Map<number, number>();
  let received = 0;
  while (received < stored) {
    const message = await consumer.receive();
    received += 1;
    const event = JSON.parse(Buffer.from(message.data).toString()) as { after: { id: number } };
    seen.set(event.after.id, (seen.get(event.after.id) ?? 0) + 1);
    await consumer.acknowledge(message);
  }
  await consumer.close();
  return { received, distinct: seen.size, repeated: [...seen.values()].filter((n) => n > 1).length };
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
  const settings = { guarantee: scenario.guarantee, namespace: ns, name: `cdc-${table}`.replaceAll("_", "-"), configs };
  const killAtSend = killPoint(total, scenario.salt);
  const first = startChild({ ...settings, killAtSend });
  if (scenario.during > 0) {
    await waitFor(() => slotActive(configs["slot.name"] as string), 60_000, "the first process to stream");
    await db.query(
      `INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series($1::int + 1, $1::int + $2::int) g`,
      [scenario.before, scenario.during],
    );
  }
  expect(await exited(first), "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  const atKill = await storedCount(topic);
  expect(atKill, "the kill lands before the end").toBeLessThan(total);
  const second = startChild(settings);
  await waitFor(() => slotActive(configs["slot.name"] as string), 60_000, "the restarted process to stream");
  // One more row after the restart: the stream goes on where it stopped.
  await db.query(`INSERT INTO ${table} VALUES ($1, 'after')`, [total + 1]);
  const end = (await db.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn;
  // Everything is in Pulsar once the slot confirmed the last insert: it confirms only what Pulsar acknowledged.
  await waitFor(
    async () =>
      (
        await db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn >= $2", [
          configs["slot.name"],
          end,
        ])
      ).rowCount === 1,
    300_000,
    "the slot to confirm the last row",
  );
  second.kill("SIGTERM");
  expect((await exited(second)).code).toBe(0);
  return { killAtSend, atKill, total: total + 1, ...(await idsIn(topic)) };
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
