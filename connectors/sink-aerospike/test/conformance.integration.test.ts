import { join } from "node:path";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll, beforeAll } from "vitest";
import definition from "../src/index.ts";
import { AerospikeTestDouble } from "./aerospike-test-double.ts";

// Against the Aerospike test double (no real server can be obtained here), through the real `aerospike` client.
const double = new AerospikeTestDouble({ namespace: "test" });
let port = 0;
let sets = 0;

beforeAll(async () => {
  port = await double.start();
});

afterAll(async () => {
  await double.stop();
});

describeSinkConformance("aerospike (test double)", {
  definition,
  config: () => ({
    seedHosts: `127.0.0.1:${port}`,
    keyspace: "test",
    keySet: `conformance${sets++}`,
    mode: "structured",
    keyField: "id",
    timeoutMs: 2000,
  }),
  invalidConfig: {
    configs: { seedHosts: "127.0.0.1", keyspace: "" },
    paths: ["configs.seedHosts", "configs.keyspace"],
  },
  value: (id) => ({ id, name: `name-${id}` }),
  readBack: (configs) => double.integerBins(configs.keySet as string, "id"),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
