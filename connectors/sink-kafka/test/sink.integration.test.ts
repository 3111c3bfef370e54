import { ConnectorError, loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { defaultPartitioner, kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import type { Admin, KafkaMessage } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const kafka = testKafka("sink-kafka-test");
let admin: Admin;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
});

async function createTopic(partitions = 1): Promise<string> {
  const topic = uniqueName("sink-kafka");
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

async function openSink(topic: string, extra: Record<string, unknown> = {}): Promise<SinkInstance> {
  const config = loadConfig(definition.config, { bootstrapServers: kafkaBrokers().join(","), topic, ...extra });
  return definition.open(config, createSinkContext().context);
}

/**
 * Every message of `topic`, read with a fresh consumer group: as many as the partitions' end offsets say the topic
 * holds, so an unexpected extra message is read too (and fails the count checks).
 */
async function readAll(topic: string, count: number): Promise<Array<KafkaMessage & { partition: number }>> {
  const storedNow = async () =>
    (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  // acks=0 writes may land after the sink returned: wait for the count, then require exactly it.
  await expect.poll(storedNow, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(count);
  const stored = await storedNow();
  expect(stored, "messages in the topic").toBe(count);
  const consumer = kafka.consumer({ groupId: uniqueName("check") });
  const messages: Array<KafkaMessage & { partition: number }> = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message, partition }) => void messages.push({ ...message, partition }) });
  const deadline = Date.now() + 20_000;
  while (messages.length < stored && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await consumer.disconnect();
  return messages;
}

describe("Kafka sink against a real Kafka 4.1 broker", () => {
  it("writes the payload bytes with the key, and properties as headers", async () => {
    const topic = await createTopic();
    const sink = await openSink(topic, { copyHeadersEnabled: true });
    try {
      const records = makeSinkRecords(
        Array.from({ length: 20 }, (_, i) => ({
          value: { id: i },
          key: `key-${i}`,
          properties: { source: "pulsar", index: String(i) },
        })),
      );
      expect(await sink.write(records)).toBeUndefined();
    } finally {
      await sink.close();
    }
    const messages = await readAll(topic, 20);
    expect(messages).toHaveLength(20);
    expect(messages.map((m) => m.key?.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `key-${i}`));
    expect(messages.map((m) => JSON.parse(m.value?.toString() ?? "null").id)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(messages[3]?.headers?.source?.toString()).toBe("pulsar");
    expect(messages[3]?.headers?.index?.toString()).toBe("3");
  });

  it("keeps the key -> partition mapping of Kafka's default partitioner", async () => {
    const topic = await createTopic(3);
    const sink = await openSink(topic);
    try {
      await sink.write(makeSinkRecords([1, 2, 3, 4, 5, 6].map((i) => ({ value: `v${i}`, key: `same-key` }))));
      await sink.write(makeSinkRecords([{ value: "no-key" }]));
    } finally {
      await sink.close();
    }
    const messages = await readAll(topic, 7);
    const keyed = messages.filter((m) => m.key?.toString() === "same-key");
    expect(keyed).toHaveLength(6);
    expect(new Set(keyed.map((m) => m.partition)).size).toBe(1);
    expect(keyed.map((m) => m.value?.toString())).toEqual(["v1", "v2", "v3", "v4", "v5", "v6"]);
    expect(messages.find((m) => m.key === null)?.value?.toString()).toBe("no-key");
  });

  it("puts each key on the partition Kafka's own murmur2 partitioner picks (kafkajs' Java-compatible one)", async () => {
    const partitions = 5;
    const topic = await createTopic(partitions);
    const keys = Array.from({ length: 40 }, (_, i) => `customer-${i * 7919}`);
    const sink = await openSink(topic);
    try {
      await sink.write(makeSinkRecords(keys.map((key) => ({ value: key, key }))));
    } finally {
      await sink.close();
    }
    const oracle = defaultPartitioner();
    const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    const expected = keys.map((key) => [key, oracle({ topic, partitionMetadata, message: { key, value: key } })]);
    const messages = await readAll(topic, keys.length);
    const actual = keys.map((key) => [key, messages.find((m) => m.key?.toString() === key)?.partition]);
    expect(actual).toEqual(expected);
    expect(new Set(actual.map(([, partition]) => partition)).size, "the keys spread over the partitions").toBe(
      partitions,
    );
  });

  for (const acks of ["all", "1", "0"] as const) {
    it(`writes with acks=${acks}`, async () => {
      const topic = await createTopic();
      const sink = await openSink(topic, { acks, batchSize: 512 });
      try {
        await sink.write(makeSinkRecords(Array.from({ length: 300 }, (_, i) => ({ value: `m${i}` }))));
      } finally {
        await sink.close();
      }
      const messages = await readAll(topic, 300);
      expect(messages.map((m) => m.value?.toString())).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
    });
  }

  it("writes through the idempotent producer", async () => {
    const topic = await createTopic();
    const sink = await openSink(topic, { producerConfigProperties: { "enable.idempotence": true } });
    try {
      for (let batch = 0; batch < 5; batch++) {
        await sink.write(makeSinkRecords(Array.from({ length: 100 }, (_, i) => ({ value: `b${batch}-${i}` }))));
      }
    } finally {
      await sink.close();
    }
    const messages = await readAll(topic, 500);
    expect(messages).toHaveLength(500);
    expect(messages[499]?.value?.toString()).toBe("b4-99");
  });

  it("fails a record above maxRequestSize without retry while the rest of the batch is written", async () => {
    const topic = await createTopic();
    const sink = await openSink(topic, { maxRequestSize: 1000 });
    try {
      const outcome = await sink.write(
        makeSinkRecords([{ value: "small-1" }, { value: "x".repeat(5000) }, { value: "small-2" }]),
      );
      expect(outcome?.failed.map((failure) => failure.index)).toEqual([1]);
      expect(outcome?.failed[0]?.error).toMatchObject({ code: "INVALID_RECORD", retryable: false });
    } finally {
      await sink.close();
    }
    const messages = await readAll(topic, 2);
    expect(messages.map((m) => m.value?.toString())).toEqual(["small-1", "small-2"]);
  });

  it("fails open with a retryable CONNECTION_FAILED when no broker answers", async () => {
    const config = loadConfig(definition.config, {
      bootstrapServers: "127.0.0.1:1",
      topic: "t",
      producerConfigProperties: { retries: 0 },
    });
    const error = await definition.open(config, createSinkContext().context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe("CONNECTION_FAILED");
    expect((error as ConnectorError).retryable).toBe(true);
  });
});
