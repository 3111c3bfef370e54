import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { describe, expect, inject, it } from "vitest";

const kafkaEndpoint = inject("services").kafka!;

describe("kafka (KRaft, single node)", () => {
  it("produces and consumes messages in order through a consumer group", async () => {
    const kafka = new Kafka({ clientId: "services-smoke", brokers: kafkaEndpoint.brokers, logLevel: logLevel.NOTHING });
    const topic = `services-smoke-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(true);
    } finally {
      await admin.disconnect();
    }

    const producer = kafka.producer();
    await producer.connect();
    const sent = ["one", "two", "three"];
    await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i}`, value })) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `services-smoke-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only got ${JSON.stringify(received)}`)), 30_000);
        consumer
          .run({
            eachMessage: async ({ message }) => {
              received.push(message.value?.toString() ?? "");
              if (received.length === sent.length) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    expect(received).toEqual(sent);
  });
});
