import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, describe, expect, inject, it } from "vitest";

// The jdbc-sqlite sink behind the `transforms` function, under EFFECTIVELY_ONCE with a dead-letter topic, in a process
// killed with SIGKILL mid-stream twice: records the function drops move no stored position, yet after the restarts
// the table holds exactly the kept records, once each, and every record the function failed is dead-lettered.
const pulsar = inject("services").pulsar;
const dir = mkdtempSync(join(tmpdir(), "function-transforms-sigkill-"));
const dbPath = join(dir, "sink.db");
const run = `tfk${Date.now().toString(36)}`;
const fixture = join(import.meta.dirname, "fixtures/run-transformed-sink.ts");
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const COUNT = 3000;
// Record i: every seventh fails in the function (a required field is missing), every third is dropped by it.
const fails = (i: number) => i % 7 === 0;
const dropped = (i: number) => !fails(i) && i % 3 === 0;
const STEPS = [
  { type: "drop", when: "value.kind == 'skip'" },
  {
    type: "compute",
    fields: [{ name: "value.label", expression: "fn:uppercase(value.name)", type: "STRING", optional: false }],
  },
  { type: "drop-fields", fields: "name,kind" },
];

function rowCount(): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${run}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function startSink(settings: Record<string, unknown>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--conditions=@pulsar-connect/source", fixture], {
    env: { ...process.env, PC_TRANSFORM_CHILD: JSON.stringify(settings) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("started")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`sink process exited with ${code} before it started`)));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  child.kill("SIGKILL");
  expect(await exited, "the sink process dies by the SIGKILL (it was still running)").toBe("SIGKILL");
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.runIf(pulsar !== undefined)("transforms in front of an effectively-once sink, killed mid-stream", () => {
  it("ends with exactly the kept rows once each, and every failed record dead-lettered", {
    timeout: 240_000,
  }, async () => {
    if (!pulsar) throw new Error("needs a Pulsar broker");
    const db = new Database(dbPath);
    db.exec(`CREATE TABLE ${run} (id INTEGER NOT NULL, label TEXT)`);
    db.close();
    const topic = `persistent://public/default/${run}`;
    const deadLetterTopic = `persistent://public/default/${run}-dlq`;
    const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    const dlq = await client.subscribe({
      topic: deadLetterTopic,
      subscription: "check",
      subscriptionInitialPosition: "Earliest",
    });
    const producer = await client.createProducer({ topic });
    await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        producer.send({
          value: JSON.stringify(
            fails(i) ? { id: i, kind: "broken" } : { id: i, name: `n${i}`, kind: dropped(i) ? "skip" : "ok" },
          ),
        }),
      ),
    );
    await producer.close();
    const kept = Array.from({ length: COUNT }, (_, i) => i).filter((i) => !fails(i) && !dropped(i));
    const failed = Array.from({ length: COUNT }, (_, i) => i).filter(fails);

    const settings = {
      name: run,
      topic,
      dbPath,
      table: run,
      deadLetterTopic,
      steps: STEPS,
      serviceUrl: pulsar.serviceUrl,
      adminUrl: pulsar.webServiceUrl,
    };
    const first = await startSink(settings);
    await waitFor(() => rowCount() >= kept.length / 4, 120_000, "a quarter of the rows");
    await kill(first);
    const second = await startSink(settings);
    const before = rowCount();
    await waitFor(() => rowCount() > before, 120_000, "more rows");
    await kill(second);
    expect(rowCount(), "the kills land mid-stream").toBeLessThan(kept.length);
    const third = await startSink(settings);
    await waitFor(() => rowCount() >= kept.length, 120_000, "every kept row");
    const deadLettered = new Set<number>();
    while (deadLettered.size < failed.length) {
      const message = await dlq.receive(60_000);
      deadLettered.add((JSON.parse(Buffer.from(message.data).toString("utf8")) as { id: number }).id);
      await dlq.acknowledge(message);
    }
    await kill(third);

    const check = new Database(dbPath, { readonly: true });
    const rows = check.prepare(`SELECT id, label FROM ${run} ORDER BY id`).all() as Array<{
      id: number;
      label: string;
    }>;
    check.close();
    expect(rows.map((row) => row.id)).toEqual(kept);
    expect(rows.every((row) => row.label === `N${row.id}`)).toBe(true);
    expect([...deadLettered].sort((a, b) => a - b)).toEqual(failed);
    await dlq.close();
    await client.close();
  });
});
