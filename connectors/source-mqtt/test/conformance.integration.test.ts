import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { brokerUrl } from "@pulsar-connect/test-support/mqtt";
import { describeSourceConformance, describeSourceKill } from "@pulsar-connect/testkit";
import mqtt from "mqtt";
import definition from "../src/index.ts";

let seeded = 0;

/** Publishes `{"id": n}` messages at QoS 1, each acknowledged by the broker. */
async function publish(topic: string, ids: number[]): Promise<void> {
  const client = await mqtt.connectAsync(brokerUrl());
  try {
    for (let start = 0; start < ids.length; start += 200) {
      await Promise.all(
        ids.slice(start, start + 200).map((id) => client.publishAsync(topic, JSON.stringify({ id }), { qos: 1 })),
      );
    }
  } finally {
    await client.endAsync();
  }
}

/** A config whose persistent session exists (subscribed once) before anything is published to its topic. */
const config = async () => {
  const topic = uniqueName("src");
  const configs = { brokerUrl: brokerUrl(), topics: topic, qos: 1, clientId: uniqueName("client") };
  const client = await mqtt.connectAsync(brokerUrl(), { clientId: configs.clientId, clean: false });
  await client.subscribeAsync(topic, { qos: 1 });
  await client.endAsync();
  return configs;
};

describeSourceConformance("mqtt", {
  definition,
  config,
  invalidConfig: {
    configs: { brokerUrl: "mqtt://h:1", topics: "a/#/b", sessionExpirySec: 10 },
    paths: ["configs.topics", "configs.sessionExpirySec"],
  },
  seed: async (configs, count) => {
    const first = seeded;
    seeded += count;
    await publish(
      configs.topics as string,
      Array.from({ length: count }, (_, i) => first + i),
    );
  },
});

describeSourceKill("mqtt", {
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  config,
  seed: (configs, ids) => publish(configs.topics as string, ids),
  // Nothing left for the session: a fresh connection with it receives no message within a second.
  drained: async (configs) => {
    const client = await mqtt.connectAsync(brokerUrl(), {
      clientId: configs.clientId as string,
      clean: false,
    });
    let received = 0;
    // Not acknowledged: whatever arrives stays with the session.
    client.handleMessage = (_packet, _callback) => {
      received += 1;
    };
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    client.end(true);
    return received === 0;
  },
  guarantees: ["ATLEAST_ONCE"],
  // Below Mosquitto's max_queued_messages (1000): a broker drops what exceeds it for a disconnected session.
  total: 900,
  pulsar: pulsarEndpoints(),
});
