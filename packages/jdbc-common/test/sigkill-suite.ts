// Kills a SQL sink's process with SIGKILL while it runs through the runtime against a real broker, then lets a new
// process finish: under EFFECTIVELY_ONCE the table must hold exactly the input rows.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, describe, expect, it } from "vitest";

/** What the SIGKILL suite needs to know about one database. */
export interface SigkillTarget {
  label: string;
  /** Absolute path of the connector's entry module (its default export is the sink definition). */
  connectorModule: string;
  pulsar: { serviceUrl: string; webServiceUrl: string } | undefined;
  /** Creates a table `(id INTEGER NOT NULL, name TEXT)`-like, without a unique key, and returns the sink configs for it. */
  prepare(table: string): Promise<Record<string, unknown>>;
  /** Row count, distinct ids, lowest and highest id of a table. */
  summarize(table: string): Promise<{ n: number; ids: number; low: number; high: number }>;
  /** Drops a table made by `prepare`. */
  drop(table: string): Promise<void>;
  close(): Promise<void>;
}

const fixture = join(import.meta.dirname, "fixtures/run-sink.ts");

export function describeSigkill(target: SigkillTarget): void {
  // Without a broker the file fails instead of skipping: test/services.json must list pulsar.
  if (target.pulsar === undefined) throw new Error(`${target.label}: the SIGKILL tests need a Pulsar broker`);
  const pulsar = target.pulsar;
  const children: ChildProcess[] = [];
  const tables: string[] = [];
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    for (const table of tables) await target.drop(table);
    await target.close();
  });

  function startSink(env: Record<string, string>, readyWhen = "started"): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["--conditions=@pulsar-connect/source", fixture], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes(readyWhen)) resolve(child);
      });
      child.once("exit", (code) => reject(new Error(`sink process exited with ${code} before "${readyWhen}"`)));
    });
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    child.kill("SIGKILL");
    expect(await exited, "the sink process dies by the SIGKILL (it was still running)").toBe("SIGKILL");
  }

  /** Messages not yet acknowledged on the topic's subscriptions (Infinity before the subscription exists). */
  async function backlog(topic: string): Promise<number> {
    const response = await fetch(
      `${pulsar.webServiceUrl}/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`,
    );
    if (response.status !== 200) return Number.POSITIVE_INFINITY;
    const stats = (await response.json()) as { subscriptions?: Record<string, { msgBacklog: number }> };
    const subscriptions = Object.values(stats.subscriptions ?? {});
    if (subscriptions.length === 0) return Number.POSITIVE_INFINITY;
    return subscriptions.reduce((sum, subscription) => sum + subscription.msgBacklog, 0);
  }

  async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function produce(topic: string, count: number): Promise<void> {
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
   * not acknowledged yet; then lets a third process finish.
   */
  async function killTwice(guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE", count: number) {
    const unique = `sigkill_${guarantee === "ATLEAST_ONCE" ? "alo" : "eo"}_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const configs = await target.prepare(unique);
    tables.push(unique);
    const rows = async () => (await target.summarize(unique)).n;
    const topic = `persistent://public/default/${unique}`;
    await produce(topic, count);
    const env = {
      CONNECTOR: target.connectorModule,
      CONFIGS: JSON.stringify(configs),
      SERVICE_URL: pulsar.serviceUrl,
      ADMIN_URL: pulsar.webServiceUrl,
      TOPIC: topic,
      NAME: unique,
      GUARANTEE: guarantee,
    };
    const first = await startSink(env);
    await waitFor(async () => (await rows()) >= count / 4, 120_000, "a quarter of the rows");
    await kill(first);
    expect(await rows(), "the first kill lands mid-stream").toBeLessThan(count);
    const second = await startSink({ ...env, HANG_AFTER_ROWS: String(count / 4) }, "hung");
    await kill(second);
    expect(await rows()).toBeLessThan(count);
    const third = await startSink(env);
    await waitFor(async () => (await rows()) >= count, 120_000, "every row");
    // Once nothing is left unacknowledged, nothing can be delivered again: the table is final.
    await waitFor(async () => (await backlog(topic)) === 0, 60_000, "every message acknowledged");
    await kill(third);
    return target.summarize(unique);
  }

  describe(`${target.label} sink process killed with SIGKILL mid-stream`, () => {
    const count = 20_000;
    it("EFFECTIVELY_ONCE ends with exactly the input rows, no duplicates", { timeout: 240_000 }, async () => {
      expect(await killTwice("EFFECTIVELY_ONCE", count)).toEqual({ n: count, ids: count, low: 0, high: count - 1 });
    });

    it("ATLEAST_ONCE loses nothing but writes the unacknowledged batch again (what EFFECTIVELY_ONCE prevents)", {
      timeout: 240_000,
    }, async () => {
      const summary = await killTwice("ATLEAST_ONCE", count);
      expect(summary.ids).toBe(count);
      expect(summary.n).toBeGreaterThan(count);
    });
  });
}
