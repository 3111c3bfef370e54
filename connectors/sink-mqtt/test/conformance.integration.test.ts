import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { brokerUrl, collect } from "@pulsar-connect/test-support/mqtt";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import type mqtt from "mqtt";
import { afterAll } from "vitest";
import definition from "../src/index.ts";

const collectors = new Map<string, { messages: mqtt.IPublishPacket[]; client: mqtt.MqttClient }>();
afterAll(async () => {
  for (const { client } of collectors.values()) await client.endAsync();
});

describeSinkConformance("mqtt", {
  definition,
  config: async () => {
    const topic = uniqueName("conformance");
    collectors.set(topic, await collect(brokerUrl(), topic));
    return { brokerUrl: brokerUrl(), topic, qos: 1 };
  },
  invalidConfig: {
    configs: { brokerUrl: "http://h", topic: "a/#", qos: 3 },
    paths: ["configs.brokerUrl", "configs.topic", "configs.qos"],
  },
  value: (id) => ({ id }),
  duplicatesVisible: true,
  readBack: async (configs) => {
    const messages = collectors.get(configs.topic as string)?.messages ?? [];
    // Delivery to the subscriber trails the broker's acknowledgement: wait until no message arrived for 300 ms.
    let seen = -1;
    let stableSince = Date.now();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && Date.now() - stableSince < 300) {
      if (messages.length !== seen) {
        seen = messages.length;
        stableSince = Date.now();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    return messages.map((packet) => (JSON.parse(packet.payload.toString()) as { id: number }).id);
  },
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
