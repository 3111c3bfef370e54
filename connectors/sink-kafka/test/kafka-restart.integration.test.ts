// The sink survives a Kafka restart: writes during the outage fail with a retryable error, writes after it succeed
// without reopening the sink. The shared broker must not be restarted, so this test starts a private Kafka 4.1
// through tooling/services (own state directory and ports), SIGKILLs it and starts the same process again.
import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { privateKafkaBroker, uniqueName, waitFor } from "@pulsar-connect/kafka-common/testing";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import kafkajs from "kafkajs";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const broker = privateKafkaBroker("pc-kafka-sink-restart-");

describe("Kafka sink across a Kafka restart (private broker)", () => {
  it("fails writes during the outage as retryable and writes again after the restart", async () => {
    const brokers = [`127.0.0.1:${broker.port()}`];
    const kafka = new kafkajs.Kafka({ brokers, clientId: "sink-restart-test", logLevel: kafkajs.logLevel.NOTHING });
    const topic = uniqueName("sink-restart");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const config = loadConfig(definition.config, {
      bootstrapServers: brokers.join(","),
      topic,
      producerConfigProperties: { retries: 1, "request.timeout.ms": 2000 },
    });
    const sink = await definition.open(config, createSinkContext().context);
    const batch = (from: number) => makeSinkRecords(Array.from({ length: 50 }, (_, i) => ({ value: `m${from + i}` })));
    try {
      expect(await sink.write(batch(0))).toBeUndefined();
      const outageErrors: unknown[] = [];
      await broker.restart(3000, async () => {
        outageErrors.push(await sink.write(batch(50)).catch((error: unknown) => error));
      });
      const chain: string[] = [];
      for (let e = outageErrors[0] as { name?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
        chain.push(String(e.name));
      }
      expect(outageErrors[0], chain.join(" <- ")).toBeInstanceOf(ConnectorError);
      expect(outageErrors[0], chain.join(" <- ")).toMatchObject({ code: "WRITE_FAILED", retryable: true });

      // What the runtime does with a retryable failure: write the same batch again until it succeeds.
      let written = false;
      const deadline = Date.now() + 120_000;
      while (!written && Date.now() < deadline) {
        written = await sink.write(batch(50)).then(
          (outcome) => outcome === undefined,
          () => false,
        );
        if (!written) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(written).toBe(true);
      expect(await sink.write(batch(100))).toBeUndefined();
    } finally {
      await sink.close();
    }

    // Read exactly what the partition holds (its end offset), duplicates included.
    const offsetsAdmin = kafka.admin();
    await offsetsAdmin.connect();
    const stored = (await offsetsAdmin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    await offsetsAdmin.disconnect();
    const consumer = kafka.consumer({ groupId: uniqueName("sink-restart-check") });
    const values: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString() ?? "") });
    await waitFor(() => values.length >= stored, 30_000, `${stored} messages`);
    await consumer.disconnect();
    const times = new Map<string, number>();
    for (const value of values) times.set(value, (times.get(value) ?? 0) + 1);
    expect([...times.keys()].sort()).toEqual(Array.from({ length: 150 }, (_, i) => `m${i}`).sort());
    // Only the batch written again after the outage may repeat; the batches around it are stored exactly once.
    const repeated = [...times].filter(([, n]) => n > 1).map(([value]) => Number(value.slice(1)));
    expect(repeated.filter((id) => id < 50 || id >= 100)).toEqual([]);
  }, 300_000);
});
