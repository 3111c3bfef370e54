import { loadConfig, type SourceInstance } from "@pulsar-connect/core";
import {
  defaultPartitioner,
  kafkaBrokers,
  readAtLeast,
  readFor,
  testKafka,
  text,
  uniqueName,
} from "@pulsar-connect/kafka-common/testing";
import { createSourceContext } from "@pulsar-connect/testkit";
import type { Admin, Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const kafka = testKafka("source-kafka-test");
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
});

async function createTopic(partitions = 1): Promise<string> {
  const topic = uniqueName("src-kafka");
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

async function produce(topic: string, count: number, partition?: number, from = 0): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: count }, (_, i) => ({
      key: `k${from + i}`,
      value: `v${from + i}`,
      headers: { origin: "test", n: String(from + i) },
      ...(partition === undefined ? {} : { partition }),
    })),
  });
}

async function committed(groupId: string, topic: string): Promise<Record<number, string>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((entry?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

async function openSource(topic: string, groupId: string, extra: Record<string, unknown> = {}) {
  const config = loadConfig(definition.config, {
    bootstrapServers: kafkaBrokers().join(","),
    groupId,
    topic,
    offsetCommitIntervalMs: 200,
    idleReadTimeoutMs: 300,
    ...extra,
  });
  return (await definition.open(config, createSourceContext().context)) as SourceInstance;
}

describe("Kafka source against a real Kafka 4.1 broker", () => {
  it("reads records with key, headers as properties, partitionId and sequence = offset", async () => {
    const topic = await createTopic();
    const groupId = uniqueName("g");
    await produce(topic, 5);
    const source = await openSource(topic, groupId, { copyHeadersEnabled: true, headerValueEncoding: "utf8" });
    try {
      const records = await readAtLeast(source, 5);
      expect(records.map((r) => text(r.value))).toEqual(["v0", "v1", "v2", "v3", "v4"]);
      expect(records.map((r) => r.key)).toEqual(["k0", "k1", "k2", "k3", "k4"]);
      expect(records.map((r) => r.sequence)).toEqual([0n, 1n, 2n, 3n, 4n]);
      expect(records[0]?.partitionId).toBe(`${topic}-0`);
      expect(records[2]?.properties).toEqual({
        origin: "test",
        n: "2",
        __kafka_topic: topic,
        __kafka_partition: "0",
        __kafka_offset: "2",
      });
      expect(records[0]?.eventTime).toBeGreaterThan(Date.now() - 60_000);
      for (const record of records) await record.ack?.();
    } finally {
      await source.close();
    }
  });

  it("commits only acked offsets: the highest contiguous acked offset + 1", async () => {
    const topic = await createTopic();
    const groupId = uniqueName("g");
    await produce(topic, 10);
    const source = await openSource(topic, groupId, { autoCommitEnabled: true, autoCommitIntervalMs: 100 });
    try {
      const records = await readAtLeast(source, 10);
      expect(records).toHaveLength(10);
      await new Promise((resolve) => setTimeout(resolve, 800));
      // Nothing acked: nothing committed, even with autoCommitEnabled.
      expect((await committed(groupId, topic))[0]).toBe("-1");
      for (const index of [0, 1, 2, 4, 5]) await records[index]?.ack?.();
      await waitFor(async () => (await committed(groupId, topic))[0] === "3");
      // Offset 3 still pending: 4 and 5 cannot be committed yet.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await committed(groupId, topic))[0]).toBe("3");
      await records[3]?.ack?.();
      await waitFor(async () => (await committed(groupId, topic))[0] === "6");
      for (const record of records.slice(6)) await record.ack?.();
      await waitFor(async () => (await committed(groupId, topic))[0] === "10");
    } finally {
      await source.close();
    }
  });

  it("re-reads a failed record and everything after it", async () => {
    const topic = await createTopic();
    const groupId = uniqueName("g");
    await produce(topic, 10);
    const source = await openSource(topic, groupId);
    try {
      const first = await readAtLeast(source, 10);
      for (const record of first.slice(0, 5)) await record.ack?.();
      await first[5]?.fail?.(new Error("publish failed"));
      // Acks of records after the failed one do not count: they are read again.
      for (const record of first.slice(6)) await record.ack?.();
      const again = await readAtLeast(source, 5);
      expect(again.map((r) => r.sequence)).toEqual([5n, 6n, 7n, 8n, 9n]);
      expect(again.map((r) => text(r.value))).toEqual(["v5", "v6", "v7", "v8", "v9"]);
      expect(await readFor(source, 800)).toEqual([]);
      for (const record of again) await record.ack?.();
      await waitFor(async () => (await committed(groupId, topic))[0] === "10");
    } finally {
      await source.close();
    }
  });

  it("a new instance with the same group re-reads exactly the records that were not acked", async () => {
    const topic = await createTopic();
    const groupId = uniqueName("g");
    await produce(topic, 10);
    const first = await openSource(topic, groupId);
    const read = await readAtLeast(first, 10);
    expect(read).toHaveLength(10);
    for (const record of read.slice(0, 4)) await record.ack?.();
    await first.close();
    expect((await committed(groupId, topic))[0]).toBe("4");

    const second = await openSource(topic, groupId);
    try {
      const reread = await readAtLeast(second, 6);
      expect(reread.map((r) => r.sequence)).toEqual([4n, 5n, 6n, 7n, 8n, 9n]);
      expect(await readFor(second, 1000)).toEqual([]);
      for (const record of reread) await record.ack?.();
    } finally {
      await second.close();
    }
    expect((await committed(groupId, topic))[0]).toBe("10");
  });

  it("late acks of records from before a failure do not move the commit past unread records", async () => {
    const topic = await createTopic();
    const groupId = uniqueName("g");
    await produce(topic, 4);
    const source = await openSource(topic, groupId);
    try {
      const records = await readAtLeast(source, 4);
      await records[1]?.fail?.(new Error("x"));
      await records[1]?.ack?.();
      await records[0]?.ack?.();
      await waitFor(async () => (await committed(groupId, topic))[0] === "1");
      const again = await readAtLeast(source, 3);
      expect(again.map((r) => r.sequence)).toEqual([1n, 2n, 3n]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await committed(groupId, topic))[0]).toBe("1");
    } finally {
      await source.close();
    }
  });

  it("shares partitions across two instances of a group; after the rebalance every record is delivered and committed", async () => {
    const topic = await createTopic(4);
    const groupId = uniqueName("g");
    for (let p = 0; p < 4; p++) await produce(topic, 50, p, p * 1000);
    const one = await openSource(topic, groupId, { sessionTimeoutMs: 10000, heartbeatIntervalMs: 500 });
    const seen = new Map<string, number>();
    const take = async (source: SourceInstance, ms: number) => {
      for (const record of await readFor(source, ms)) {
        const id = `${record.partitionId}@${record.sequence}`;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        await record.ack?.();
      }
    };
    await take(one, 1500);
    const two = await openSource(topic, groupId, { sessionTimeoutMs: 10000, heartbeatIntervalMs: 500 });
    try {
      for (let p = 0; p < 4; p++) await produce(topic, 50, p, p * 1000 + 50);
      const deadline = Date.now() + 45_000;
      while (seen.size < 400 && Date.now() < deadline) await Promise.all([take(one, 500), take(two, 500)]);
      expect(seen.size).toBe(400);
      await waitFor(async () => {
        const offsets = await committed(groupId, topic);
        return [0, 1, 2, 3].every((p) => offsets[p] === "100");
      });
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("condition not met in time");
}
