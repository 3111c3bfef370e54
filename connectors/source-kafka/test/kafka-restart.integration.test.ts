// The source survives a Kafka restart (upstream's did not, apache/pulsar#8343). The shared broker must not be
// restarted, so this test starts a private Kafka 4.1 through tooling/services (own state directory and ports),
// SIGKILLs it under a running source and starts the same broker process again on the same data.
import { loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import { privateKafkaBroker, uniqueName, waitFor } from "@pulsar-connect/kafka-common/testing";
import { createSourceContext } from "@pulsar-connect/testkit";
import kafkajs from "kafkajs";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const broker = privateKafkaBroker("pc-kafka-restart-");

describe("Kafka source across a Kafka restart (private broker)", () => {
  it("keeps reading after the broker was killed and started again, without losing or re-reading acked records", async () => {
    const brokers = [`127.0.0.1:${broker.port()}`];
    const kafka = new kafkajs.Kafka({ brokers, clientId: "restart-test", logLevel: kafkajs.logLevel.NOTHING });
    const topic = uniqueName("restart");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const produce = async (from: number, count: number) => {
      const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: count }, (_, i) => ({ value: `v${from + i}` })),
      });
      await producer.disconnect();
    };
    await produce(0, 200);

    const groupId = uniqueName("restart-g");
    const config = loadConfig(definition.config, {
      bootstrapServers: brokers.join(","),
      groupId,
      topic,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      idleReadTimeoutMs: 300,
      offsetCommitIntervalMs: 200,
    });
    const handle = createSourceContext();
    const source = (await definition.open(config, handle.context)) as SourceInstance;
    const signal = new AbortController().signal;
    const sequences: bigint[] = [];
    const readAndAck = async (until: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (sequences.length < until && Date.now() < deadline) {
        const batch = ((await source.read({ maxRecords: 500, signal })) ?? []) as SourceRecord[];
        for (const record of batch) {
          sequences.push(record.sequence as bigint);
          await record.ack?.();
        }
      }
    };
    try {
      await readAndAck(200, 30_000);
      expect(sequences).toHaveLength(200);
      await new Promise((resolve) => setTimeout(resolve, 600));

      let emptyReadsDuringOutage = 0;
      await broker.restart(5000, async () => {
        // While Kafka is down, read() keeps answering (empty batches), it does not throw.
        const until = Date.now() + 3000;
        while (Date.now() < until) {
          const batch = await source.read({ maxRecords: 10, signal });
          expect(batch).toEqual([]);
          emptyReadsDuringOutage++;
        }
      });
      expect(emptyReadsDuringOutage).toBeGreaterThan(0);

      await waitFor(
        async () => {
          try {
            await produce(200, 200);
            return true;
          } catch {
            return false;
          }
        },
        120_000,
        "the restarted broker to take writes",
      );
      await readAndAck(400, 120_000);
      expect(sequences).toEqual(Array.from({ length: 400 }, (_, i) => BigInt(i)));
      // The consumer really went through the outage: it rejoined the group after the restart.
      const joins = handle.logger.lines.filter((line) => line.message === "Kafka partitions assigned");
      expect(joins.length).toBeGreaterThanOrEqual(2);

      const check = kafka.admin();
      await check.connect();
      try {
        await waitFor(
          async () => (await check.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset === "400",
          30_000,
          "offset 400 to be committed",
        );
      } finally {
        await check.disconnect();
      }
    } finally {
      await source.close();
    }
  }, 300_000);
});
