// Crash tests: a connector instance runs in a child process, kills itself with SIGKILL at a chosen point of its
// work (right after a sink commit and before the ack, in the middle of a sink transaction over a large batch, with a
// source send whose receipt is pending, or at a seeded random point) and is started again. Each test checks that the
// kill landed mid-stream and that what ends up stored is exactly what the processing guarantee promises, record by
// record. PC_CRASH_SEED=<n> replays the random kill points of a failed run (the seed is printed).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { seededRandom } from "../../pulsar-client/test/seeded-random.ts";
import { openTestDb } from "./fixtures/sqlite-sink.ts";

const pulsarEndpoints = inject("services").pulsar;
if (pulsarEndpoints === undefined) throw new Error("test/services.json must list pulsar");
const SERVICE_URL = pulsarEndpoints.serviceUrl;
const ADMIN_URL = pulsarEndpoints.webServiceUrl;
const TOTAL = 20_000;
const run = `${Date.now().toString(36)}`;
const workDir = mkdtempSync(join(tmpdir(), "pc-crash-"));
const seed = Number(process.env.PC_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
let client: PulsarClient;

const random = seededRandom(seed);
const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(`${ADMIN_URL}${path}`, init);
}

interface Child {
  process: ChildProcess;
  output: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startChild(settings: Record<string, unknown>): Child {
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/crash-child.ts")],
    {
      env: {
        ...process.env,
        PC_CRASH_CHILD: JSON.stringify({ serviceUrl: SERVICE_URL, adminUrl: ADMIN_URL, ...settings }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(...chunk.toString().split("\n").filter(Boolean)));
  child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(`[child] ${chunk}`));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { process: child, output, exit };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Publishes ids 0..count-1 in producer batches of up to 1000 messages (one entry each: large sink batches). */
async function produce(topic: string, count: number): Promise<void> {
  const producer = await client.createProducer({ topic, batchingEnabled: true, batchingMaxMessages: 1000 });
  const pending: Array<Promise<unknown>> = [];
  for (let id = 0; id < count; id += 1) {
    pending.push(producer.send({ value: Buffer.from(JSON.stringify({ id })) }));
    if (pending.length >= 5000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await producer.close();
}

/** How many times each id is stored. */
function storedIds(dbPath: string): Map<number, number> {
  const db = openTestDb(dbPath);
  try {
    const rows = db.prepare("SELECT id, count(*) AS n FROM rows GROUP BY id").all() as Array<{ id: number; n: number }>;
    return new Map(rows.map((row) => [row.id, row.n]));
  } finally {
    db.close();
  }
}

function summary(ids: Map<number, number>) {
  let rows = 0;
  let duplicates = 0;
  for (const n of ids.values()) {
    rows += n;
    duplicates += n - 1;
  }
  const outside = [...ids.keys()].filter((id) => !Number.isInteger(id) || id < 0 || id >= TOTAL);
  return { rows, distinct: ids.size, duplicates, lost: TOTAL - ids.size, outside: outside.length };
}

async function backlogOf(topic: string): Promise<number> {
  const response = await admin("GET", `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`);
  if (response.status !== 200) return Number.POSITIVE_INFINITY;
  const stats = (await response.json()) as { subscriptions?: Record<string, { msgBacklog: number }> };
  const subscriptions = Object.values(stats.subscriptions ?? {});
  if (subscriptions.length === 0) return Number.POSITIVE_INFINITY;
  return subscriptions.reduce((sum, subscription) => sum + subscription.msgBacklog, 0);
}

beforeAll(async () => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL });
  process.stdout.write(`crash tests: random kill points from PC_CRASH_SEED=${seed}\n`);
});

afterAll(async () => {
  await client?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const report: Record<string, unknown> = {};
afterAll(() => {
  process.stdout.write(`crash-test figures (PC_CRASH_SEED=${seed}): ${JSON.stringify(report)}\n`);
});

type Guarantee = "ATLEAST_ONCE" | "ATMOST_ONCE" | "EFFECTIVELY_ONCE";
type KillAt = { write: number; row?: number };

const fixedPoints: Array<{ label: string; killAt: KillAt }> = [
  { label: "after a commit, before the ack", killAt: { write: 4 } },
  { label: "mid-transaction of a large batch", killAt: { write: 4, row: 600 } },
];

/** Runs the sink until it kills itself at `killAt`, restarts it without a kill point, and returns what is stored. */
async function crashSink(
  guarantee: Guarantee,
  label: string,
  killAt: KillAt,
  firstRun: Record<string, unknown> = {},
  restartAs: Guarantee = guarantee,
) {
  const slug = `${guarantee.toLowerCase()}-${label.replace(/[^a-z0-9]+/gi, "-")}-${run}`;
  const topic = `persistent://public/default/crash-sink-${slug}`;
  const dbPath = join(workDir, `${slug}.db`);
  await produce(topic, TOTAL);
  const settings = { kind: "sink", guarantee, topic, name: `crash-${slug}`, dbPath };

  const first = startChild({ ...settings, ...firstRun, killAt });
  expect(await first.exit, "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  expect(first.output.some((line) => line.startsWith("killing "))).toBe(true);
  const atKill = summary(storedIds(dbPath));
  expect(atKill.rows, "rows stored before the kill").toBeGreaterThan(0);
  expect(atKill.distinct, "the kill lands before the end of the stream").toBeLessThan(TOTAL);

  const second = startChild({ ...settings, guarantee: restartAs });
  // Done when the subscription has nothing left to deliver (under ATMOST_ONCE some ids may never come).
  await waitFor(async () => (await backlogOf(topic)) === 0, 120_000, "the restarted sink to drain the topic");
  if (guarantee !== "ATMOST_ONCE" && restartAs !== "ATMOST_ONCE") {
    await waitFor(() => storedIds(dbPath).size >= TOTAL, 60_000, "every id stored");
  }
  second.process.kill("SIGTERM");
  expect((await second.exit).code).toBe(0);
  const ids = storedIds(dbPath);
  const final = summary(ids);
  report[`${guarantee} ${label}`] = { killAt, atKill, final };
  return { atKill, final, ids };
}

function expectEveryIdAtLeastOnce(ids: Map<number, number>): void {
  const missing = Array.from({ length: TOTAL }, (_, id) => id).filter((id) => !ids.has(id));
  expect(missing).toEqual([]);
}

function expectEveryIdExactlyOnce(ids: Map<number, number>): void {
  expectEveryIdAtLeastOnce(ids);
  expect([...ids].filter(([, n]) => n !== 1)).toEqual([]);
  expect(ids.size).toBe(TOTAL);
}

describe("sink process killed mid-stream", () => {
  for (const { label, killAt } of fixedPoints) {
    it(`EFFECTIVELY_ONCE, killed ${label}: every id stored exactly once`, { timeout: 180_000 }, async () => {
      const { ids, final } = await crashSink("EFFECTIVELY_ONCE", label, killAt);
      expectEveryIdExactlyOnce(ids);
      expect(final.outside).toBe(0);
    });

    it(`ATLEAST_ONCE, killed ${label}: every id stored at least once`, { timeout: 180_000 }, async () => {
      const { ids, final } = await crashSink("ATLEAST_ONCE", label, killAt);
      expectEveryIdAtLeastOnce(ids);
      expect(final.outside).toBe(0);
      // Killed between commit and ack, the committed batch comes again: the duplicates EFFECTIVELY_ONCE prevents.
      if (killAt.row === undefined) expect(final.duplicates).toBeGreaterThan(0);
    });

    it(`ATMOST_ONCE, killed ${label}: no id stored twice`, { timeout: 180_000 }, async () => {
      const { ids, atKill, final } = await crashSink("ATMOST_ONCE", label, killAt);
      expect([...ids].filter(([, n]) => n !== 1)).toEqual([]);
      expect(final.outside).toBe(0);
      expect(final.distinct, "the restarted process goes on writing").toBeGreaterThan(atKill.distinct);
    });
  }

  // The acks of the batch after the unload are made while the consumer is disconnected: held for the reconnect and
  // lost by the kill, they would bring the written batch back. ATMOST_ONCE writes only what the broker confirmed.
  it("ATMOST_ONCE, killed after a write whose acks were made while the consumer was disconnected: no id stored twice", {
    timeout: 180_000,
  }, async () => {
    const unloadAt = between(2, 6);
    const { ids, final, atKill } = await crashSink(
      "ATMOST_ONCE",
      `unload-${seed}`,
      { write: unloadAt + 1 },
      { unloadBeforeWrite: unloadAt },
    );
    expect([...ids].filter(([, n]) => n !== 1)).toEqual([]);
    expect(final.outside).toBe(0);
    expect(final.distinct, "the restarted process goes on writing").toBeGreaterThan(atKill.distinct);
  });

  describe("at seeded random points", () => {
    for (const guarantee of ["EFFECTIVELY_ONCE", "ATLEAST_ONCE", "ATMOST_ONCE"] as const) {
      const killAt: KillAt =
        random() < 0.5 ? { write: between(2, 12) } : { write: between(2, 12), row: between(0, 999) };
      it(`${guarantee}, killed at ${JSON.stringify(killAt)} (PC_CRASH_SEED=${seed})`, {
        timeout: 180_000,
      }, async () => {
        const { ids, final } = await crashSink(guarantee, `seed-${seed}`, killAt);
        expect(final.outside).toBe(0);
        if (guarantee === "ATMOST_ONCE") expect([...ids].filter(([, n]) => n !== 1)).toEqual([]);
        else if (guarantee === "ATLEAST_ONCE") expectEveryIdAtLeastOnce(ids);
        else expectEveryIdExactlyOnce(ids);
      });
    }
  });
});

// Two writes in flight (the sink's maxInFlight, declared by a sink that stores no positions): the first batch's write
// is held while every later batch is written and acknowledged, then the process dies before the first batch is
// stored. Its messages must still be unacknowledged.
describe("ATLEAST_ONCE sink with writes finishing out of order, killed before the first write stored", () => {
  it("loses nothing and writes nothing twice after the restart", { timeout: 180_000 }, async () => {
    const total = 400;
    const batchSize = 20;
    const slug = `out-of-order-${run}`;
    const topic = `persistent://public/default/crash-sink-${slug}`;
    const dbPath = join(workDir, `${slug}.db`);
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await Promise.all(
      Array.from({ length: total }, (_, id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })),
    );
    await producer.close();
    const settings = { kind: "sink", guarantee: "ATLEAST_ONCE", topic, name: `crash-${slug}`, dbPath, batchSize };

    const first = startChild({ ...settings, holdFirstWrite: "positionless" });
    expect(await first.exit, "the first process dies by SIGKILL in its first write").toEqual({
      code: null,
      signal: "SIGKILL",
    });
    // The first batch may be short (a batch goes once a turn of the event loop brings no new message).
    const killLine = first.output
      .map((line) => /^killing in the first write \((\d+) records\), (\d+) messages unacknowledged$/.exec(line))
      .find((match) => match !== null);
    const held = Number(killLine?.[1]);
    expect(held, "records of the held first write").toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(batchSize);
    expect(Number(killLine?.[2]), "messages unacknowledged at the kill: the first batch's alone").toBe(held);
    const atKill = storedIds(dbPath);
    expect(atKill.size, "every later batch stored before the kill").toBe(total - held);
    expect(await backlogOf(topic), "only the first batch unacknowledged after the kill").toBe(held);

    const second = startChild(settings);
    await waitFor(async () => (await backlogOf(topic)) === 0, 120_000, "the restarted sink to drain the topic");
    await waitFor(() => storedIds(dbPath).size >= total, 60_000, "every id stored");
    second.process.kill("SIGTERM");
    expect((await second.exit).code).toBe(0);
    const ids = storedIds(dbPath);
    expect(Array.from({ length: total }, (_, id) => id).filter((id) => !ids.has(id))).toEqual([]);
    expect(
      [...ids].filter(([, n]) => n !== 1),
      "the acknowledged batches do not come again",
    ).toEqual([]);
  });
});

// A sink that stores its position with every write declares two writes in flight under ATLEAST_ONCE; the runtime
// writes one batch at a time all the same. Were a later batch stored while the first one was held, its position would
// cover the first batch, and an EFFECTIVELY_ONCE restart would skip that batch for good.
describe("ATLEAST_ONCE sink that stores positions, killed in its first write, restarted under EFFECTIVELY_ONCE", () => {
  it("writes the held batch after the restart: no position covered it", { timeout: 180_000 }, async () => {
    const total = 200;
    const slug = `storing-held-${run}`;
    const topic = `persistent://public/default/crash-sink-${slug}`;
    const dbPath = join(workDir, `${slug}.db`);
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await Promise.all(
      Array.from({ length: total }, (_, id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })),
    );
    await producer.close();
    const settings = { kind: "sink", topic, name: `crash-${slug}`, dbPath, batchSize: 20 };

    const first = startChild({ ...settings, guarantee: "ATLEAST_ONCE", holdFirstWrite: "storing", holdMaxMs: 5000 });
    expect(await first.exit, "the first process dies by SIGKILL in its first write").toEqual({
      code: null,
      signal: "SIGKILL",
    });
    expect(storedIds(dbPath).size, "no later batch stored while the first was held").toBe(0);

    const second = startChild({ ...settings, guarantee: "EFFECTIVELY_ONCE" });
    await waitFor(async () => (await backlogOf(topic)) === 0, 120_000, "the restarted sink to drain the topic");
    second.process.kill("SIGTERM");
    expect((await second.exit).code).toBe(0);
    const ids = storedIds(dbPath);
    expect(
      Array.from({ length: total }, (_, id) => id).filter((id) => !ids.has(id)),
      "missing after the EFFECTIVELY_ONCE restart",
    ).toEqual([]);
    expect([...ids].filter(([, n]) => n !== 1)).toEqual([]);
  });
});

// A guarantee change restarts the instance under the new guarantee; a SIGKILL first leaves the most behind (a batch
// committed with its position but not acknowledged). No id may come twice unless ATLEAST_ONCE was involved (as the
// torture oracle says); EFFECTIVELY_ONCE -> ATLEAST_ONCE writes the unacknowledged batch again by design.
describe("sink killed, then restarted under another guarantee", () => {
  const pairs: Array<[Guarantee, Guarantee]> = [
    ["EFFECTIVELY_ONCE", "ATMOST_ONCE"],
    ["EFFECTIVELY_ONCE", "ATLEAST_ONCE"],
    ["ATMOST_ONCE", "EFFECTIVELY_ONCE"],
    ["ATMOST_ONCE", "ATLEAST_ONCE"],
    ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"],
    ["ATLEAST_ONCE", "ATMOST_ONCE"],
  ];
  for (const [from, to] of pairs) {
    const killAt: KillAt = { write: between(2, 8) };
    it(`${from} killed after the commit of write ${killAt.write}, then ${to} (PC_CRASH_SEED=${seed})`, {
      timeout: 180_000,
    }, async () => {
      const { ids, final } = await crashSink(from, `${from}-to-${to}-${seed}`, killAt, {}, to);
      expect(final.outside).toBe(0);
      const twiceAllowed = from === "ATLEAST_ONCE" || (from === "EFFECTIVELY_ONCE" && to === "ATLEAST_ONCE");
      if (!twiceAllowed)
        expect(
          [...ids].filter(([, n]) => n !== 1),
          "no id twice",
        ).toEqual([]);
      if (from !== "ATMOST_ONCE" && to !== "ATMOST_ONCE") expectEveryIdAtLeastOnce(ids);
    });
  }
});

/**
 * Runs the counting source under EFFECTIVELY_ONCE until it kills itself at send `killAtSend` with the receipt pending,
 * then again under `restartAs` (it starts over at id 0 each time: only what the topic holds keeps a record from
 * being published twice), and returns how often each id is in the topic.
 */
async function crashSource(label: string, killAtSend: number, restartAs: Guarantee) {
  const namespace = `public/crash-src-${label}-${run}`;
  expect((await admin("PUT", `/admin/v2/namespaces/${namespace}`)).status).toBeLessThan(300);
  expect((await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true)).status).toBeLessThan(300);
  const topic = `persistent://${namespace}/crash-source`;
  const settings = { kind: "source", guarantee: "EFFECTIVELY_ONCE", topic, name: "crash-source", count: TOTAL };

  const msgIn = async () => {
    const response = await admin("GET", `/admin/v2/persistent/${namespace}/crash-source/stats`);
    if (response.status !== 200) return 0;
    return ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
  };
  const first = startChild({ ...settings, killAtSend });
  expect(await first.exit, "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  expect(first.output.some((line) => /^killing at send \d+ with its receipt pending$/.test(line))).toBe(true);
  const atKill = await msgIn();
  expect(atKill, "records published before the kill").toBeGreaterThan(0);
  expect(atKill, "the kill lands before the end of the stream").toBeLessThan(TOTAL);

  const second = startChild({ ...settings, guarantee: restartAs });
  expect((await second.exit).code).toBe(0);

  const consumer = await client.subscribe({
    topic,
    subscription: "verify",
    subscriptionType: "Exclusive",
    subscriptionInitialPosition: "Earliest",
  });
  const seen = new Map<number, number>();
  let received = 0;
  // The broker's counter says how many messages the topic holds; read exactly those.
  const stored = await msgIn();
  while (received < stored) {
    const message = await consumer.receive();
    received += 1;
    const { id } = JSON.parse(Buffer.from(message.data).toString()) as { id: number };
    seen.set(id, (seen.get(id) ?? 0) + 1);
    await consumer.acknowledge(message);
  }
  await consumer.close();
  report[`source ${label}`] = { killAtSend, atKill, stored, received, distinct: seen.size };
  return { stored, seen };
}

describe("source process killed mid-stream under EFFECTIVELY_ONCE with deduplication on", () => {
  const killAtSend = between(TOTAL / 10, TOTAL / 2);
  it(`stores each of ${TOTAL} sequences exactly once when killed at send ${killAtSend} with its receipt pending (PC_CRASH_SEED=${seed})`, {
    timeout: 180_000,
  }, async () => {
    const { stored, seen } = await crashSource("eo", killAtSend, "EFFECTIVELY_ONCE");
    expect(stored).toBe(TOTAL);
    expect([...seen].filter(([, n]) => n !== 1)).toEqual([]);
    expect(seen.size).toBe(TOTAL);
  });

  // A change of guarantee: the restarted instance no longer deduplicates, yet what the topic holds is not sent again.
  for (const restartAs of ["ATMOST_ONCE", "ATLEAST_ONCE"] as const) {
    const killAt = between(TOTAL / 10, TOTAL / 2);
    it(`then restarted under ${restartAs}: each of ${TOTAL} ids once, killed at send ${killAt} (PC_CRASH_SEED=${seed})`, {
      timeout: 180_000,
    }, async () => {
      const { stored, seen } = await crashSource(restartAs.toLowerCase().replace("_", "-"), killAt, restartAs);
      expect([...seen].filter(([, n]) => n !== 1)).toEqual([]);
      expect(seen.size).toBe(TOTAL);
      expect(stored).toBe(TOTAL);
    });
  }
});
