// A Kafka record Pulsar can never take (larger than the broker's 5 MiB limit): the instance ends with an error that
// names the reason, under EFFECTIVELY_ONCE (instead of the record being skipped as "already stored" once it is read
// again) and under ATLEAST_ONCE (instead of reading it again forever), and nothing behind it reaches Pulsar.
import { defaultPartitioner, kafkaBrokers, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { createTestNamespace, idsIn } from "@pulsar-connect/test-support";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { kafkaToPulsar } from "./kafka-to-pulsar.ts";

const { kafka, kafkaAdmin, adminUrl, client } = kafkaToPulsar("refused-record");

describe("a Kafka record larger than Pulsar accepts", () => {
  for (const guarantee of ["EFFECTIVELY_ONCE", "ATLEAST_ONCE"] as const) {
    it(`${guarantee}: ends the instance visibly, every time it is read, and nothing behind it is sent`, async () => {
      const namespace = await createTestNamespace("kafka-refused", { deduplication: true });
      const pulsarTopic = `persistent://${namespace}/out`;
      const kafkaTopic = uniqueName("refused");
      await kafkaAdmin.createTopics({
        topics: [
          { topic: kafkaTopic, numPartitions: 1, configEntries: [{ name: "max.message.bytes", value: "16777216" }] },
        ],
        waitForLeaders: true,
      });
      const producer = kafka.producer({ createPartitioner: defaultPartitioner });
      await producer.connect();
      await producer.send({
        topic: kafkaTopic,
        acks: -1,
        messages: Array.from({ length: 10 }, (_, id) => ({
          value: JSON.stringify(id === 5 ? { id, pad: "x".repeat(6 * 1024 * 1024) } : { id }),
        })),
      });
      await producer.disconnect();
      const resolved = resolveSourceConfig({
        tenant: "public",
        namespace: namespace.split("/")[1],
        name: "kafka-refused",
        archive: "builtin://kafka",
        topicName: pulsarTopic,
        processingGuarantees: guarantee,
        configs: {
          bootstrapServers: kafkaBrokers().join(","),
          groupId: uniqueName("refused-g"),
          topic: kafkaTopic,
          offsetCommitIntervalMs: 100,
        },
      });
      if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
      // Twice: as the first instance, and as the one the supervisor starts after it.
      for (let attempt = 0; attempt < 2; attempt++) {
        const instance = createInstance({
          kind: "source",
          config: resolved.value,
          definition,
          instanceId: 0,
          pulsar: { client: client(), adminUrl },
        });
        await instance.start();
        await expect(instance.done).rejects.toThrow(/cannot be stored .*exceeds the broker limit/);
        expect(instance.status().error).toMatch(/exceeds the broker limit/);
      }
      const ids = await idsIn(client(), pulsarTopic, 2000);
      expect(ids).toEqual([0, 1, 2, 3, 4]);
    }, 120_000);
  }
});
