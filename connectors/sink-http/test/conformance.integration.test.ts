import { join } from "node:path";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";
import { pulsarEndpoints, Receiver, uniqueName } from "./receiver.ts";

const receiver = await Receiver.start();
afterAll(() => receiver.close());

describeSinkConformance("http", {
  definition,
  config: () => ({ url: `${receiver.url}/${uniqueName("conformance")}` }),
  invalidConfig: {
    configs: { url: "ftp://example.com", requestMode: "batches", batchMaxRecords: 0 },
    paths: ["configs.url", "configs.requestMode", "configs.batchMaxRecords"],
  },
  value: (id) => ({ id }),
  readBack: async (configs) =>
    receiver
      .accepted(new URL(configs.url as string).pathname)
      .map((request) => (JSON.parse(request.body.toString()) as { id: number }).id),
  duplicatesVisible: true,
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
