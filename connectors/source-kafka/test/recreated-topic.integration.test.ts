// A Kafka topic deleted and created again starts its offsets over. The source's sequence ids are offsets, so under
// EFFECTIVELY_ONCE the new records must not pass for records stored before the recreation.
import { defaultPartitioner, kafkaBrokers, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { createTestNamespace, idsIn } from "@pulsar-connect/test-support";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { committed, kafkaToPulsar } from "./kafka-to-pulsar.ts";

const { kafka, kafkaAdmin, adminUrl, client } = kafkaToPulsar("recreated-topic");

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function produce(topic: string, ids: number[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: ids.map((id) => ({ value: JSON.stringify({ id }) })) });
  await producer.disconnect();
}

describe("Kafka topic deleted and created again", () => {
  it("EFFECTIVELY_ONCE: records of the new topic reach Pulsar although their offsets were used before", async () => {
    const namespace = await createTestNamespace("kafka-recreated", { deduplication: true });
    const pulsarTopic = `persistent://${namespace}/out`;
    const kafkaTopic = uniqueName("recreated");
    const groupId = uniqueName("recreated-g");
    const resolved = resolveSourceConfig({
      tenant: "public",
      namespace: namespace.split("/")[1],
      name: "kafka-recreated",
      archive: "builtin://kafka",
      topicName: pulsarTopic,
      processingGuarantees: "EFFECTIVELY_ONCE",
      configs: {
        bootstrapServers: kafkaBrokers().join(","),
        groupId,
        topic: kafkaTopic,
        offsetCommitIntervalMs: 100,
      },
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    // The second run must commit 50 on the new topic (its group offset of the old topic may survive at 100).
    const runInstance = async (expectedCommitted: number) => {
      const instance = createInstance({
        kind: "source",
        config: resolved.value,
        definition,
        instanceId: 0,
        pulsar: { client: client(), adminUrl },
      });
      await instance.start();
      await waitFor(
        async () =>
          (await committed(kafkaAdmin, groupId, kafkaTopic)) === expectedCommitted && instance.stats.written > 0,
        "the records to commit",
      );
      await instance.stop();
      expect(instance.status().error).toBe("");
    };

    await kafkaAdmin.createTopics({ topics: [{ topic: kafkaTopic, numPartitions: 1 }], waitForLeaders: true });
    await produce(
      kafkaTopic,
      Array.from({ length: 100 }, (_, i) => i),
    );
    await runInstance(100);

    await kafkaAdmin.deleteTopics({ topics: [kafkaTopic] });
    await waitFor(async () => !(await kafkaAdmin.listTopics()).includes(kafkaTopic), "the topic to be deleted");
    await waitFor(
      async () =>
        kafkaAdmin
          .createTopics({ topics: [{ topic: kafkaTopic, numPartitions: 1 }], waitForLeaders: true })
          .then(() => true)
          .catch(() => false),
      "the topic to be created again",
    );
    await produce(
      kafkaTopic,
      Array.from({ length: 50 }, (_, i) => 1000 + i),
    );
    await runInstance(50);

    const ids = await idsIn(client(), pulsarTopic, 3000);
    expect(ids).toEqual([
      ...Array.from({ length: 100 }, (_, i) => i),
      ...Array.from({ length: 50 }, (_, i) => 1000 + i),
    ]);
  }, 180_000);
});
