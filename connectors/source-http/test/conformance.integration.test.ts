import { join } from "node:path";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSourceConformance, describeSourceKill } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";
import { freePort, WebhookClient } from "./webhook-client.ts";

/** One sender per source port: seeding queues requests that it retries until the source answers them 2xx. */
const clients = new Map<number, WebhookClient>();
const clientOf = (configs: Record<string, unknown>) => {
  const port = configs.port as number;
  let client = clients.get(port);
  if (!client) {
    client = new WebhookClient(`http://127.0.0.1:${port}/hook`, { concurrency: 32 });
    clients.set(port, client);
  }
  return client;
};
let seeded = 0;

const config = async () => ({ port: await freePort(), path: "/hook", bodyFormat: "json" });

describeSourceConformance("http", {
  definition,
  config,
  invalidConfig: {
    configs: { port: 70_000, path: "hook", bodyFormat: "xml", signatureHeader: "X-Signature" },
    paths: ["configs.port", "configs.path", "configs.bodyFormat"],
  },
  seed: async (configs, count) => {
    const first = seeded;
    seeded += count;
    clientOf(configs).post(Array.from({ length: count }, (_, i) => first + i));
  },
});

describeSourceKill("http", {
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  config,
  seed: async (configs, ids) => clientOf(configs).post(ids),
  // The origin is the senders: it is drained once every request was answered 2xx.
  drained: async (configs) => clientOf(configs).done,
  guarantees: ["ATLEAST_ONCE"],
  pulsar: pulsarEndpoints(),
  total: 2000,
});
