import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { createStream, natsServers, withNats } from "@pulsar-connect/test-support/nats";
import { describeSourceConformance, describeSourceKill } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";

let seeded = 0;

async function publish(subject: string, ids: number[]): Promise<void> {
  await withNats(natsServers(), async (connection) => {
    const js = jetstream(connection);
    for (let start = 0; start < ids.length; start += 500) {
      await Promise.all(ids.slice(start, start + 500).map((id) => js.publish(subject, JSON.stringify({ id }))));
    }
  });
}

const config = async () => {
  const stream = uniqueName("src");
  await createStream(natsServers(), stream, `${stream}.in`);
  return { servers: natsServers(), stream, durableName: "pulsar", ackWaitMs: 5_000, ordered: true };
};

describeSourceConformance("nats", {
  definition,
  config,
  invalidConfig: {
    configs: { servers: "nats://h:1", mode: "jetstream", queueGroup: "q", batchSize: 0 },
    paths: ["configs.stream", "configs.durableName", "configs.queueGroup", "configs.batchSize"],
  },
  seed: async (configs, count) => {
    const first = seeded;
    seeded += count;
    await publish(
      `${configs.stream as string}.in`,
      Array.from({ length: count }, (_, i) => first + i),
    );
  },
  effectivelyOnce: true,
});

describeSourceKill("nats", {
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  config,
  seed: (configs, ids) => publish(`${configs.stream as string}.in`, ids),
  drained: (configs) =>
    withNats(natsServers(), async (connection) => {
      const jsm = await jetstreamManager(connection);
      const info = await jsm.consumers.info(configs.stream as string, configs.durableName as string);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }),
  guarantees: ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"],
  pulsar: pulsarEndpoints(),
});
