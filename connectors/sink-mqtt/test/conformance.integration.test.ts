import { join } from "node:path";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import type mqtt from "mqtt";
import { afterAll } from "vitest";
import definition from "../src/index.ts";
import { brokerUrl, collect, pulsarEndpoints, uniqueName } from "./mqtt.ts";

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
  readBack: async (configs) =>
    (collectors.get(configs.topic as string)?.messages ?? []).map(
      (packet) => (JSON.parse(packet.payload.toString()) as { id: number }).id,
    ),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
