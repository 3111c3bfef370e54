import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { redisHosts, testRedis } from "@pulsar-connect/test-support/redis";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownRedis = privateServer("redis");
const redis = testRedis();
afterAll(() => redis.quit());

async function openSink(configs: Record<string, unknown>) {
  const handle = createSinkContext({ name: "redis-sink-test" });
  return definition.open(loadConfig(definition.config, configs), handle.context);
}

describe("Redis sink against a real server", () => {
  it("sets each record's key to its bytes, later records of a batch winning, in pipelines of batchSize", async () => {
    const prefix = `${uniqueName("kv")}:`;
    const sink = await openSink({ redisHosts: redisHosts(), keyPrefix: prefix, batchSize: 2 });
    const outcome = await sink.write(
      makeSinkRecords([
        { value: "one", key: "a" },
        { value: "two", key: "b" },
        { value: "three", key: "a" },
        { value: "keyless" },
      ]),
    );
    await sink.close();
    expect(outcome).toBeUndefined();
    expect(await redis.mget(`${prefix}a`, `${prefix}b`, prefix)).toEqual(["three", "two", "keyless"]);
  });

  it("writes hash fields in hash mode", async () => {
    const hashName = uniqueName("hash");
    const sink = await openSink({ redisHosts: redisHosts(), mode: "hash", hashName });
    await sink.write(
      makeSinkRecords([
        { value: "1", key: "x" },
        { value: "2", key: "y" },
      ]),
    );
    await sink.close();
    expect(await redis.hgetall(hashName)).toEqual({ x: "1", y: "2" });
  });

  it("refuses keyless records with missingKey refuse, and reports a wrong-type key per record", async () => {
    const prefix = `${uniqueName("refuse")}:`;
    await redis.lpush(`${prefix}list`, "occupied");
    const hashSink = await openSink({
      redisHosts: redisHosts(),
      mode: "hash",
      hashName: `${prefix}list`,
      missingKey: "refuse",
    });
    const outcome = await hashSink.write(makeSinkRecords([{ value: "v" }, { value: "w", key: "k" }]));
    await hashSink.close();
    expect(
      outcome?.failed.map((f) => [f.index, (f.error as ConnectorError).code, (f.error as ConnectorError).retryable]),
    ).toEqual([
      [0, "INVALID_RECORD", false],
      [1, "WRITE_FAILED", false],
    ]);
    expect(outcome?.failed[1]?.error.message).toMatch(/WRONGTYPE/);
  });

  it("fails writes with a retryable error naming the cause while Redis is down, and writes again after", {
    timeout: 60_000,
  }, async () => {
    const { host, port } = ownRedis.endpoint();
    const sink = await openSink({ redisHosts: `${host}:${port}`, keyPrefix: "r:" });
    await sink.write(makeSinkRecords([{ value: "before", key: "k" }]));
    await ownRedis.kill();
    const down = await sink.write(makeSinkRecords([{ value: "during", key: "k" }])).catch((error: unknown) => error);
    expect(down).toBeInstanceOf(ConnectorError);
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    expect((down as Error).message).toContain(`${host}:${port}`);
    await ownRedis.start();
    await expect
      .poll(
        () =>
          sink.write(makeSinkRecords([{ value: "after", key: "k" }])).then(
            () => "written",
            (e: Error) => e.message,
          ),
        {
          timeout: 30_000,
          interval: 200,
        },
      )
      .toBe("written");
    await sink.close();
    const check = testRedis(`${host}:${port}`);
    expect(await check.get("r:k")).toBe("after");
    await check.quit();
  });
});
