import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, describe, expect, inject, it } from "vitest";

const pulsar = inject("services").pulsar;
const dir = mkdtempSync(join(tmpdir(), "jdbc-sqlite-sigkill-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function startSink(env: Record<string, string>, readyWhen = "started"): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/run-sink.ts")],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes(readyWhen)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`sink process exited with ${code} before starting`)));
  });
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function produce(topic: string, count: number): Promise<void> {
  if (pulsar === undefined) return;
  const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
  const producer = await client.createProducer({ topic });
  for (let first = 0; first < count; first += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - first) }, (_, i) =>
        producer.send({ value: Buffer.from(JSON.stringify({ id: first + i, name: `order ${first + i}` })) }),
      ),
    );
  }
  await producer.close();
  await client.close();
}

/**
 * Kills the sink process twice: once mid-stream at a random point, once right after a commit whose messages were
 * not acknowledged yet; then lets a third process finish. Returns the row count and distinct ids.
 */
async function killTwice(guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE", count: number) {
  if (pulsar === undefined) throw new Error("no broker");
  const unique = `sigkill-${guarantee.toLowerCase().replace("_", "-")}-${Date.now().toString(36)}`;
  const file = join(dir, `${unique}.db`);
  const db = new Database(file);
  // No unique key: a row written twice would be counted twice.
  db.exec("CREATE TABLE orders (id INTEGER NOT NULL, name TEXT)");
  const rows = () => (db.prepare("SELECT count(*) AS n FROM orders").get() as { n: number }).n;
  const topic = `persistent://public/default/${unique}`;
  await produce(topic, count);
  const env = {
    SERVICE_URL: pulsar.serviceUrl,
    ADMIN_URL: pulsar.webServiceUrl,
    TOPIC: topic,
    NAME: unique,
    DB_FILE: file,
    TABLE: "orders",
    GUARANTEE: guarantee,
  };

  const first = await startSink(env);
  await waitFor(() => rows() >= count / 4, 120_000, "a quarter of the rows");
  first.kill("SIGKILL");
  await new Promise((resolve) => first.once("exit", resolve));

  const second = await startSink({ ...env, HANG_AFTER_ROWS: String(count / 4) }, "hung");
  second.kill("SIGKILL");
  await new Promise((resolve) => second.once("exit", resolve));
  expect(rows()).toBeLessThan(count);

  const third = await startSink(env);
  await waitFor(() => rows() >= count, 120_000, "every row");
  // Give a duplicate the time to show up before counting.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  third.kill("SIGKILL");
  const summary = db
    .prepare("SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high FROM orders")
    .get();
  db.close();
  return summary;
}

describe.skipIf(pulsar === undefined)("jdbc-sqlite sink process killed with SIGKILL mid-stream", () => {
  it("EFFECTIVELY_ONCE ends with exactly the input rows, no duplicates", { timeout: 240_000 }, async () => {
    const count = 20_000;
    expect(await killTwice("EFFECTIVELY_ONCE", count)).toEqual({ n: count, ids: count, low: 0, high: count - 1 });
  });

  it("ATLEAST_ONCE loses nothing but writes the unacknowledged batch again (what EFFECTIVELY_ONCE prevents)", {
    timeout: 240_000,
  }, async () => {
    const count = 20_000;
    const summary = (await killTwice("ATLEAST_ONCE", count)) as { n: number; ids: number };
    expect(summary.ids).toBe(count);
    expect(summary.n).toBeGreaterThan(count);
  });
});
