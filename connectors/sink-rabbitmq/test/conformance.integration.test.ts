import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { peekQueue, rabbitmq } from "@pulsar-connect/test-support/rabbitmq";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";

describeSinkConformance("rabbitmq", {
  definition,
  config: () => ({
    host: rabbitmq().host,
    port: rabbitmq().port,
    exchangeName: uniqueName("conformance-x"),
    queueName: uniqueName("conformance-q"),
    routingKey: "records",
  }),
  invalidConfig: {
    configs: { host: "", exchangeName: "x", port: 0, queueType: "stream" },
    paths: ["configs.host", "configs.port", "configs.queueType"],
  },
  value: (id) => ({ id }),
  duplicatesVisible: true,
  readBack: async (configs) =>
    (await peekQueue(rabbitmq().url, configs.queueName as string)).map(
      (message) => (JSON.parse(message.content.toString()) as { id: number }).id,
    ),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
