// Crash tests: a connector instance runs in a child process over 100k messages, is SIGKILLed mid-stream and
// started again. What ends up stored must match what the processing guarantee promises.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDb } from "./fixtures/sqlite-sink.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const TOTAL = 100_000;
const run = `${Date.now().toString(36)}`;
const workDir = mkdtempSync(join(tmpdir(), "pc-crash-"));
let client: PulsarClient;

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(`${ADMIN_URL}${path}`, init);
}

function startChild(settings: Record<string, unknown>): ChildProcess {
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
  child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(`[child] ${chunk}`));
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

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

function counts(dbPath: string): { rows: number; distinct: number } {
  const db = openTestDb(dbPath);
  try {
    const row = db.prepare("SELECT count(*) AS total, count(DISTINCT id) AS uniq FROM rows").get() as {
      total: number;
      uniq: number;
    };
    return { rows: row.total, distinct: row.uniq };
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL });
});

afterAll(async () => {
  await client?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const report: Record<string, unknown> = {};
afterAll(() => {
  process.stdout.write(`crash-test figures: ${JSON.stringify(report)}\n`);
});

describe.each(["ATLEAST_ONCE", "ATMOST_ONCE", "EFFECTIVELY_ONCE"] as const)(
  "sink killed mid-stream under %s",
  (guarantee) => {
    it(`keeps what ${guarantee} promises over ${TOTAL} messages`, { timeout: 600_000 }, async () => {
      const topic = `persistent://public/default/crash-sink-${guarantee.toLowerCase()}-${run}`;
      const dbPath = join(workDir, `${guarantee}.db`);
      await produce(topic, TOTAL);
      const settings = { kind: "sink", guarantee, topic, name: `crash-${guarantee}-${run}`, dbPath };

      const first = startChild(settings);
      await waitFor(() => counts(dbPath).rows >= TOTAL * 0.3, 240_000, "30% of the rows");
      first.kill("SIGKILL");
      await exited(first);
      const atKill = counts(dbPath);

      const second = startChild(settings);
      let last = -1;
      let stableSince = Date.now();
      await waitFor(
        () => {
          const now = counts(dbPath);
          if (now.rows !== last) {
            last = now.rows;
            stableSince = Date.now();
          }
          if (guarantee === "ATMOST_ONCE") return Date.now() - stableSince > 5000;
          return now.distinct >= TOTAL && Date.now() - stableSince > 2000;
        },
        300_000,
        "the restarted sink to catch up",
      );
      second.kill("SIGTERM");
      await exited(second);
      const final = counts(dbPath);
      report[guarantee] = { atKill, final, duplicates: final.rows - final.distinct, lost: TOTAL - final.distinct };

      if (guarantee === "ATLEAST_ONCE") {
        expect(final.distinct).toBe(TOTAL);
      } else if (guarantee === "ATMOST_ONCE") {
        expect(final.rows).toBe(final.distinct);
        expect(final.distinct).toBeLessThanOrEqual(TOTAL);
        expect(final.distinct).toBeGreaterThan(atKill.distinct);
      } else {
        expect(final.distinct).toBe(TOTAL);
        expect(final.rows).toBe(TOTAL);
      }
    });
  },
);

describe("source killed mid-stream under EFFECTIVELY_ONCE with deduplication on", () => {
  it(`stores each of ${TOTAL} sequences exactly once`, { timeout: 600_000 }, async () => {
    const namespace = `public/crash-src-${run}`;
    expect((await admin("PUT", `/admin/v2/namespaces/${namespace}`)).status).toBeLessThan(300);
    expect((await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true)).status).toBeLessThan(300);
    const topic = `persistent://${namespace}/crash-source`;
    const settings = { kind: "source", guarantee: "EFFECTIVELY_ONCE", topic, name: "crash-source", count: TOTAL };

    const stats = async () => {
      const response = await admin("GET", `/admin/v2/persistent/${namespace}/crash-source/stats`);
      if (response.status !== 200) return 0;
      return ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
    };
    const first = startChild(settings);
    await waitFor(async () => (await stats()) >= TOTAL * 0.3, 240_000, "30% of the records published");
    first.kill("SIGKILL");
    await exited(first);

    const second = startChild(settings);
    expect(await exited(second)).toBe(0);

    const consumer = await client.subscribe({
      topic,
      subscription: "verify",
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
    });
    const seen = new Map<number, number>();
    let received = 0;
    for (;;) {
      const message = await Promise.race([
        consumer.receive(),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000)),
      ]);
      if (!message) break;
      received += 1;
      const { id } = JSON.parse(Buffer.from(message.data).toString()) as { id: number };
      seen.set(id, (seen.get(id) ?? 0) + 1);
      await consumer.acknowledge(message);
    }
    await consumer.close();
    report.source = { received, distinct: seen.size };
    expect(seen.size).toBe(TOTAL);
    expect(received).toBe(TOTAL);
  });
});
