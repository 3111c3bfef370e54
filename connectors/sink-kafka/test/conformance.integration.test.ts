import { join } from "node:path";
import { kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";

const kafka = testKafka("sink-kafka-test");

/** Every id in a topic, read from the beginning with a fresh group until nothing new arrives for a while. */
async function idsIn(topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  if (total === 0) return [];
  const consumer = kafka.consumer({ groupId: uniqueName("conformance-check") });
  const ids: number[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      ids.push((JSON.parse(message.value?.toString() ?? "{}") as { id: number }).id);
    },
  });
  const deadline = Date.now() + 20_000;
  while (ids.length < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await consumer.disconnect();
  return ids;
}

describeSinkConformance("kafka", {
  definition,
  config: async () => {
    const admin = kafka.admin();
    await admin.connect();
    const topic = uniqueName("conformance-sink");
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    return { bootstrapServers: kafkaBrokers().join(","), topic, acks: "all" };
  },
  invalidConfig: {
    configs: { bootstrapServers: "127.0.0.1:9092", topic: "", acks: "2" },
    paths: ["configs.topic", "configs.acks"],
  },
  value: (id) => ({ id }),
  duplicatesVisible: true,
  readBack: (configs) => idsIn(configs.topic as string),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
