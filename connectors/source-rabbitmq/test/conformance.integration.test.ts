import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { rabbitmq } from "@pulsar-connect/test-support/rabbitmq";
import { describeSourceConformance, describeSourceKill } from "@pulsar-connect/testkit";
import amqp from "amqplib";
import definition from "../src/index.ts";

let seeded = 0;

/** Publishes `{"id": n}` messages to a queue (declared durable), with confirms. */
async function publish(queue: string, ids: number[]): Promise<void> {
  const connection = await amqp.connect(rabbitmq().url);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    for (const id of ids) channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id })), { persistent: true });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

const config = () => ({
  host: rabbitmq().host,
  port: rabbitmq().port,
  queueName: uniqueName("source-q"),
  prefetchCount: 200,
});

describeSourceConformance("rabbitmq", {
  definition,
  config,
  invalidConfig: {
    configs: { host: "h", queueName: "", prefetchCount: -1, passive: true, queueType: "quorum" },
    paths: ["configs.queueName", "configs.prefetchCount", "configs.queueType"],
  },
  seed: async (configs, count) => {
    const first = seeded;
    seeded += count;
    await publish(
      configs.queueName as string,
      Array.from({ length: count }, (_, i) => first + i),
    );
  },
});

describeSourceKill("rabbitmq", {
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  config,
  seed: (configs, ids) => publish(configs.queueName as string, ids),
  drained: async (configs) => {
    const connection = await amqp.connect(rabbitmq().url);
    try {
      const channel = await connection.createChannel();
      return (await channel.checkQueue(configs.queueName as string)).messageCount === 0;
    } finally {
      await connection.close();
    }
  },
  guarantees: ["ATLEAST_ONCE"],
  pulsar: pulsarEndpoints(),
});
