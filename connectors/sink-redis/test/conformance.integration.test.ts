import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { redisHosts, testRedis } from "@pulsar-connect/test-support/redis";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";

const redis = testRedis();
afterAll(() => redis.quit());

/** Ids of every key under a prefix (keyed by message id: a redelivered record overwrites its own key). */
async function idsUnder(prefix: string): Promise<number[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  if (keys.length === 0) return [];
  const values = await redis.mget(keys);
  return values.map((value) => (JSON.parse(value ?? "{}") as { id: number }).id);
}

describeSinkConformance("redis", {
  definition,
  config: () => ({ redisHosts: redisHosts(), keyPrefix: `${uniqueName("conformance")}:`, missingKey: "messageId" }),
  invalidConfig: {
    configs: { redisHosts: "nohost", mode: "hash", clientMode: "Cluster" },
    paths: ["configs.redisHosts", "configs.hashName", "configs.clientMode"],
  },
  value: (id) => ({ id }),
  readBack: (configs) => idsUnder(configs.keyPrefix as string),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
