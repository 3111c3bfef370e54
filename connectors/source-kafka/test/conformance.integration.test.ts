import { defaultPartitioner, kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { describeSourceConformance } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";

const kafka = testKafka("source-kafka-test");
const producer = kafka.producer({ createPartitioner: defaultPartitioner });
let connected: Promise<void> | undefined;
let seeded = 0;

afterAll(async () => {
  if (connected) await producer.disconnect();
});

describeSourceConformance("kafka", {
  definition,
  config: async () => {
    const admin = kafka.admin();
    await admin.connect();
    const topic = uniqueName("conformance-src");
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    return {
      bootstrapServers: kafkaBrokers().join(","),
      groupId: uniqueName("conformance-g"),
      topic,
      idleReadTimeoutMs: 300,
      offsetCommitIntervalMs: 200,
    };
  },
  invalidConfig: {
    configs: { bootstrapServers: "", groupId: "g", topic: "t", fetchMinBytes: 0 },
    paths: ["configs.bootstrapServers", "configs.fetchMinBytes"],
  },
  seed: async (configs, count) => {
    connected ??= producer.connect();
    await connected;
    await producer.send({
      topic: configs.topic as string,
      // Ids continue across calls, so that a record read again after reopening is told apart from a new one.
      messages: Array.from({ length: count }, () => {
        const id = seeded++;
        return { key: `k${id}`, value: JSON.stringify({ id }) };
      }),
    });
  },
  effectivelyOnce: true,
});
