import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { createStream, natsServers, streamContents } from "@pulsar-connect/test-support/nats";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";

describeSinkConformance("nats", {
  definition,
  config: async () => {
    const stream = uniqueName("sink");
    await createStream(natsServers(), stream, `${stream}.records`);
    return { servers: natsServers(), subject: `${stream}.records` };
  },
  invalidConfig: {
    configs: { servers: "", subject: "a.*", mode: "stream" },
    paths: ["configs.servers", "configs.subject", "configs.mode"],
  },
  value: (id) => ({ id }),
  readBack: async (configs) =>
    (await streamContents(natsServers(), (configs.subject as string).replace(/\.records$/, ""))).map(
      (message) => (JSON.parse(message.data) as { id: number }).id,
    ),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
