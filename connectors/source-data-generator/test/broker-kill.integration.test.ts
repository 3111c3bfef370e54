// The data generator cannot re-read a record once handed over. It runs through the runtime into a private Pulsar
// broker that is SIGKILLed mid-stream and started again, then stopped gracefully and started again. Every generated
// record must be in the topic afterwards: exactly once under EFFECTIVELY_ONCE, at least once under ATLEAST_ONCE.
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { privatePulsarBroker } from "@pulsar-connect/services/private-pulsar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import dataGenerator from "../src/index.ts";

// A 40 s stream: long enough that the graceful stop still lands mid-stream when one pipeline takes much longer than
// the other to recover from the kill on a loaded machine (the faster one goes on at its rate meanwhile).
const TOTAL = 40_000;
const RATE = 1_000;
const broker = privatePulsarBroker("pc-broker-kill-");
const run = Date.now().toString(36);
let client: PulsarClient;

beforeAll(() => {
  client = new PulsarClient({ serviceUrl: broker.serviceUrl(), operationTimeoutMs: 10_000 });
});
afterAll(async () => {
  await client?.close();
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** How often each person id is in `topic`; reads until no message came for 5 s. */
async function idCounts(topic: string): Promise<{ counts: Map<number, number>; messages: number }> {
  const reader = new PulsarClient({ serviceUrl: broker.serviceUrl() });
  const consumer = await reader.subscribe({
    topic,
    subscription: `check-${Date.now()}`,
    subscriptionInitialPosition: "Earliest",
  });
  const counts = new Map<number, number>();
  let messages = 0;
  try {
    for (;;) {
      const message = await consumer.receive(5000).catch(() => undefined);
      if (!message) break;
      const { id } = JSON.parse(message.data.toString()) as { id: number };
      counts.set(id, (counts.get(id) ?? 0) + 1);
      messages += 1;
      await consumer.acknowledge(message);
    }
  } finally {
    await consumer.close();
    await reader.close();
  }
  return { counts, messages };
}

const GUARANTEES = ["EFFECTIVELY_ONCE", "ATLEAST_ONCE"] as const;

/** One source instance per guarantee, each into its own namespace (deduplication on, retention kept). */
async function pipeline(guarantee: (typeof GUARANTEES)[number]) {
  const namespace = `public/kill-${guarantee.toLowerCase()}-${run}`;
  await broker.createDurableNamespace(namespace);
  const topic = `persistent://${namespace}/people`;
  const resolved = resolveSourceConfig({
    tenant: "public",
    namespace: namespace.split("/")[1],
    name: `gen-${guarantee.toLowerCase()}`,
    archive: "builtin://data-generator",
    topicName: topic,
    processingGuarantees: guarantee,
    configs: { ratePerSecond: RATE, maxRecords: TOTAL },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition: dataGenerator,
    instanceId: 0,
    pulsar: { client, adminUrl: broker.adminUrl() },
  });
  return { guarantee, topic, instance, states: new Set<string>() };
}

describe("data-generator -> Pulsar across broker kill -9 and graceful restart (private durable broker)", () => {
  it("every generated record is in the topic: exactly once under EFFECTIVELY_ONCE, at least once under ATLEAST_ONCE", async () => {
    // Both guarantees go through the same kill and restart, side by side, so that the broker restarts only twice.
    const pipelines = await Promise.all(GUARANTEES.map(pipeline));
    for (const { instance } of pipelines) await instance.start();
    const watch = setInterval(() => {
      for (const { instance, states } of pipelines) states.add(instance.status().state ?? "");
    }, 20);
    const written = () => Math.min(...pipelines.map(({ instance }) => instance.stats.written));
    try {
      await waitFor(() => written() >= TOTAL / 8, "an eighth of the records to be stored");
      await broker.kill();
      const writtenAtKill = written();
      for (const { instance } of pipelines) {
        // Mid-stream: some records stored, others not even read yet.
        expect(instance.stats.written).toBeGreaterThan(0);
        expect(instance.stats.received).toBeLessThan(TOTAL);
      }
      await broker.start();
      await waitFor(() => written() >= writtenAtKill + TOTAL / 20, "records stored after the kill by both pipelines");
      // Mid-stream when the graceful stop begins (the stop itself may outlast the rest of the stream).
      for (const { instance } of pipelines) expect(instance.stats.received).toBeLessThan(TOTAL);
      await broker.stop();
      await broker.start();
      await Promise.all(pipelines.map(({ instance }) => instance.done));
    } finally {
      clearInterval(watch);
    }
    for (const { guarantee, topic, instance, states } of pipelines) {
      const { counts, messages } = await idCounts(topic);
      const missing = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((id) => !counts.has(id));
      const duplicated = [...counts.values()].filter((count) => count > 1).length;
      console.log(
        `${guarantee}: ${TOTAL} records, ${messages} messages, lost ${missing.length}, duplicated ${duplicated}`,
      );
      expect(missing).toEqual([]);
      expect(counts.size).toBe(TOTAL);
      if (guarantee === "EFFECTIVELY_ONCE") {
        expect(duplicated).toBe(0);
        expect(messages).toBe(TOTAL);
      }
      expect(instance.status().error).toBe("");
      expect([...states].some((state) => state.startsWith("waiting for the broker: "))).toBe(true);
      expect(instance.stats.received).toBe(TOTAL);
      expect(instance.stats.written).toBe(TOTAL);
    }
  }, 600_000);
});
