// The Kafka source (it can replay: an unacked record is read again) runs through the runtime into a private Pulsar
// broker that is SIGKILLed mid-stream and started again, then stopped gracefully and started again. Every Kafka record
// must be in the Pulsar topic afterwards: exactly once under EFFECTIVELY_ONCE, at least once under ATLEAST_ONCE.
import { defaultPartitioner, kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { privatePulsarBroker } from "@pulsar-connect/services/private-pulsar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { committed } from "./kafka-to-pulsar.ts";

const TOTAL = 20_000;
const broker = privatePulsarBroker("pc-kafka-pulsar-kill-");
const kafka = testKafka("pulsar-broker-kill");
const kafkaAdmin = kafka.admin();
const run = Date.now().toString(36);
let client: PulsarClient;

beforeAll(async () => {
  client = new PulsarClient({ serviceUrl: broker.serviceUrl(), operationTimeoutMs: 10_000 });
  await kafkaAdmin.connect();
});
afterAll(async () => {
  await client?.close();
  await kafkaAdmin.disconnect();
});

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
  for (let first = from; first < from + count; first += 1000) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: Math.min(1000, from + count - first) }, (_, i) => ({
        key: `k${first + i}`,
        value: JSON.stringify({ id: first + i }),
      })),
    });
  }
  await producer.disconnect();
}

/** How often each id is in `topic`; reads until no message came for 5 s. */
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

/** One source instance per guarantee, each with its own consumer group and Pulsar namespace. */
async function pipeline(guarantee: (typeof GUARANTEES)[number], kafkaTopic: string) {
  const namespace = `public/kafka-kill-${guarantee.toLowerCase()}-${run}`;
  await broker.createDurableNamespace(namespace);
  const pulsarTopic = `persistent://${namespace}/from-kafka`;
  const groupId = uniqueName("pulsar-kill-g");
  const resolved = resolveSourceConfig({
    tenant: "public",
    namespace: namespace.split("/")[1],
    name: `kafka-${guarantee.toLowerCase()}`,
    archive: "builtin://kafka",
    topicName: pulsarTopic,
    processingGuarantees: guarantee,
    configs: { bootstrapServers: kafkaBrokers().join(","), groupId, topic: kafkaTopic, offsetCommitIntervalMs: 200 },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client, adminUrl: broker.adminUrl() },
  });
  return { guarantee, pulsarTopic, groupId, instance, states: new Set<string>() };
}

describe("Kafka -> Pulsar across Pulsar broker kill -9 and graceful restart (private durable broker)", () => {
  it("every Kafka record is in the topic: exactly once under EFFECTIVELY_ONCE, at least once under ATLEAST_ONCE", async () => {
    const kafkaTopic = uniqueName("pulsar-kill");
    await kafkaAdmin.createTopics({ topics: [{ topic: kafkaTopic, numPartitions: 2 }], waitForLeaders: true });
    // Both guarantees go through the same kill and restart, side by side, so that the broker restarts only twice.
    const pipelines = await Promise.all(GUARANTEES.map((guarantee) => pipeline(guarantee, kafkaTopic)));
    await Promise.all(pipelines.map(({ instance }) => instance.start()));
    const watch = setInterval(() => {
      for (const { instance, states } of pipelines) states.add(instance.status().state ?? "");
    }, 20);
    const written = () => Math.min(...pipelines.map(({ instance }) => instance.stats.written));
    try {
      // The first half reaches Kafka while the instances run, 500 records at a time, so the kill lands mid-stream.
      await produce(kafkaTopic, 0, 500);
      const mostWritten = () => Math.max(...pipelines.map(({ instance }) => instance.stats.written));
      await waitFor(() => mostWritten() > 0, "the first records to be stored");
      let fed = 500;
      const feeding = (async () => {
        for (; fed < TOTAL / 2; fed += 500) await produce(kafkaTopic, fed, 500);
      })();
      await waitFor(() => fed >= 2000, "more records in Kafka");
      const fedAtKill = fed;
      await broker.kill();
      const writtenAtKill = written();
      expect(fedAtKill).toBeLessThan(TOTAL / 2);
      for (const { instance } of pipelines) expect(instance.stats.written).toBeLessThan(TOTAL / 2);
      await feeding;
      await produce(kafkaTopic, TOTAL / 2, TOTAL / 4);
      await broker.start();
      await waitFor(() => written() >= writtenAtKill + 1000, "records stored after the kill");
      await broker.stop();
      await produce(kafkaTopic, (3 * TOTAL) / 4, TOTAL / 4);
      await broker.start();
      // Acked and committed: every Kafka record was stored in Pulsar (a replayed one may have been stored twice).
      for (const { groupId } of pipelines) {
        await waitFor(
          async () => (await committed(kafkaAdmin, groupId, kafkaTopic)) >= TOTAL,
          "every record to be committed",
          240_000,
        );
      }
      for (const { instance } of pipelines) {
        expect(instance.status().error).toBe("");
        await instance.stop();
      }
    } finally {
      clearInterval(watch);
    }
    for (const { guarantee, pulsarTopic, states } of pipelines) {
      const { counts, messages } = await idCounts(pulsarTopic);
      const missing = Array.from({ length: TOTAL }, (_, i) => i).filter((id) => !counts.has(id));
      const duplicated = [...counts.values()].filter((count) => count > 1).length;
      console.log(
        `kafka ${guarantee}: ${TOTAL} records, ${messages} messages, lost ${missing.length}, duplicated ${duplicated}`,
      );
      expect(missing).toEqual([]);
      expect(counts.size).toBe(TOTAL);
      if (guarantee === "EFFECTIVELY_ONCE") {
        expect(duplicated).toBe(0);
        expect(messages).toBe(TOTAL);
      }
      expect([...states].some((state) => state.startsWith("waiting for the broker: "))).toBe(true);
    }
  }, 600_000);
});
