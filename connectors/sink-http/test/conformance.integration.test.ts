import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";
import { Receiver } from "./receiver.ts";

const receiver = await Receiver.start();
afterAll(() => receiver.close());

/** Ids of every record the receiver accepted at a config's URL, one per request body or array element. */
const readBack = async (configs: Record<string, unknown>) =>
  receiver.accepted(new URL(configs.url as string).pathname).flatMap((request) => {
    const body = JSON.parse(request.body.toString()) as { id: number } | Array<{ id: number }>;
    return Array.isArray(body) ? body.map((value) => value.id) : [body.id];
  });

for (const requestMode of ["perRecord", "jsonArray"] as const) {
  describeSinkConformance(`http ${requestMode}`, {
    definition,
    config: () => ({ url: `${receiver.url}/${uniqueName("conformance")}`, requestMode, batchMaxRecords: 25 }),
    invalidConfig: {
      configs: { url: "ftp://example.com", requestMode: "batches", batchMaxRecords: 0 },
      paths: ["configs.url", "configs.requestMode", "configs.batchMaxRecords"],
    },
    value: (id) => ({ id }),
    readBack,
    duplicatesVisible: true,
    pulsar: pulsarEndpoints(),
    connectorModule: join(import.meta.dirname, "../src/index.ts"),
  });
}
