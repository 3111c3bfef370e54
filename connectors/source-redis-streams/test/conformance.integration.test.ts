import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { redisHosts, testRedis } from "@pulsar-connect/test-support/redis";
import { describeSourceConformance, describeSourceKill } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";

const redis = testRedis();
afterAll(() => redis.quit());
let seeded = 0;

async function add(stream: string, ids: number[]): Promise<void> {
  for (let start = 0; start < ids.length; start += 500) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(start, start + 500)) pipeline.xadd(stream, "*", "value", JSON.stringify({ id }));
    await pipeline.exec();
  }
}

const config = () => ({
  redisHosts: redisHosts(),
  streamKey: uniqueName("stream"),
  consumerGroup: "pulsar",
  valueField: "value",
});

describeSourceConformance("redis-streams", {
  definition,
  config,
  invalidConfig: {
    configs: { redisHosts: "h:1", streamKey: "", consumerGroup: "g", startId: "latest", batchSize: 0 },
    paths: ["configs.streamKey", "configs.startId", "configs.batchSize"],
  },
  seed: async (configs, count) => {
    const first = seeded;
    seeded += count;
    await add(
      configs.streamKey as string,
      Array.from({ length: count }, (_, i) => first + i),
    );
  },
  effectivelyOnce: true,
});

describeSourceKill("redis-streams", {
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  config,
  seed: (configs, ids) => add(configs.streamKey as string, ids),
  drained: async (configs) => {
    const groups = (await redis.xinfo("GROUPS", configs.streamKey as string)) as unknown[][];
    const group = groups
      .map((fields) =>
        Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]])),
      )
      .find((fields) => fields.name === configs.consumerGroup);
    return group !== undefined && group.pending === 0 && group.lag === 0;
  },
  guarantees: ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"],
  pulsar: pulsarEndpoints(),
});
