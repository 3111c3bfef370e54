import { ConnectorError, loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { redisHosts, testRedis } from "@pulsar-connect/test-support/redis";
import { createSourceContext } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownRedis = privateServer("redis");
const redis = testRedis();
afterAll(() => redis.quit());

async function open(configs: Record<string, unknown>): Promise<SourceInstance> {
  const handle = createSourceContext({ name: "redis-streams-test" });
  return definition.open(loadConfig(definition.config, configs), handle.context);
}

async function readAtLeast(source: SourceInstance, count: number): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  const signal = new AbortController().signal;
  await expect
    .poll(
      async () => {
        records.push(...((await source.read({ maxRecords: 100, signal })) ?? []));
        return records.length;
      },
      { timeout: 20_000, interval: 10 },
    )
    .toBeGreaterThanOrEqual(count);
  return records;
}

const values = (records: SourceRecord[]) => records.map((record) => Buffer.from(record.value as Uint8Array).toString());

async function pending(stream: string, group: string): Promise<number> {
  return Number(((await redis.xpending(stream, group)) as unknown[])[0]);
}

describe("Redis Streams source against a real server", () => {
  it("reads its own pending entries again after a crash, then new ones; XACK only on ack", async () => {
    const streamKey = uniqueName("own-pel");
    for (const v of ["a", "b", "c"]) await redis.xadd(streamKey, "*", "value", v, "tenant", "t1");
    const configs = {
      redisHosts: redisHosts(),
      streamKey,
      consumerGroup: "g",
      consumerName: "c1",
      valueField: "value",
      keyField: "tenant",
    };
    const first = await open(configs);
    const read = await readAtLeast(first, 3);
    expect(values(read)).toEqual(["a", "b", "c"]);
    expect(read[0]?.key).toBe("t1");
    expect(read[0]?.properties?.["redis.streamId"]).toMatch(/^\d+-\d+$/);
    await read[0]?.ack?.();
    // The process dies here: b and c stay pending for consumer c1.
    await first.close();
    expect(await pending(streamKey, "g")).toBe(2);
    await redis.xadd(streamKey, "*", "value", "d");
    const second = await open(configs);
    const again = await readAtLeast(second, 3);
    expect(values(again)).toEqual(["b", "c", "d"]);
    for (const record of again) await record.ack?.();
    await second.close();
    expect(await pending(streamKey, "g")).toBe(0);
  });

  it("sends a failed record again, once, after the records in flight", async () => {
    const streamKey = uniqueName("fail");
    for (const v of ["a", "b"]) await redis.xadd(streamKey, "*", "value", v);
    const source = await open({ redisHosts: redisHosts(), streamKey, consumerGroup: "g", valueField: "value" });
    const [a, b] = await readAtLeast(source, 2);
    await a?.fail?.(new Error("send refused"));
    const retried = await readAtLeast(source, 1);
    // b is still in flight: only a comes back.
    expect(values(retried)).toEqual(["a"]);
    await b?.ack?.();
    await retried[0]?.ack?.();
    await source.close();
    expect(await pending(streamKey, "g")).toBe(0);
  });

  it("takes over entries a dead consumer left pending longer than claimIdleMs", async () => {
    const streamKey = uniqueName("claim");
    for (const v of ["x", "y"]) await redis.xadd(streamKey, "*", "value", v);
    const dead = await open({
      redisHosts: redisHosts(),
      streamKey,
      consumerGroup: "g",
      consumerName: "dead",
      valueField: "value",
    });
    await readAtLeast(dead, 2);
    await dead.close();
    const heir = await open({
      redisHosts: redisHosts(),
      streamKey,
      consumerGroup: "g",
      consumerName: "heir",
      valueField: "value",
      claimIdleMs: 200,
    });
    const claimed = await readAtLeast(heir, 2);
    expect(values(claimed).sort()).toEqual(["x", "y"]);
    for (const record of claimed) await record.ack?.();
    await heir.close();
    expect(await pending(streamKey, "g")).toBe(0);
  });

  it("refuses a missing group when createGroup is false", async () => {
    const streamKey = uniqueName("nogroup");
    await redis.xadd(streamKey, "*", "value", "v");
    const source = await open({ redisHosts: redisHosts(), streamKey, consumerGroup: "absent", createGroup: false });
    const error = await source.read({ maxRecords: 1, signal: new AbortController().signal }).catch((e: unknown) => e);
    await source.close();
    expect(error).toMatchObject({ code: "NOT_FOUND", retryable: false });
  });

  it("fails reads with a retryable error naming the server while Redis is down, and resumes after", {
    timeout: 60_000,
  }, async () => {
    const { host, port } = ownRedis.endpoint();
    const own = testRedis(`${host}:${port}`);
    const streamKey = uniqueName("recover");
    await own.xadd(streamKey, "*", "value", "1");
    const source = await open({ redisHosts: `${host}:${port}`, streamKey, consumerGroup: "g", valueField: "value" });
    const [one] = await readAtLeast(source, 1);
    await one?.ack?.();
    own.disconnect();
    await ownRedis.kill();
    const signal = new AbortController().signal;
    const down = await source.read({ maxRecords: 1, signal }).catch((error: unknown) => error);
    expect(down).toBeInstanceOf(ConnectorError);
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    expect((down as Error).message).toContain(`${host}:${port}`);
    await ownRedis.start();
    const back = testRedis(`${host}:${port}`);
    await back.xadd(streamKey, "*", "value", "2");
    const after: SourceRecord[] = [];
    await expect
      .poll(
        async () => {
          after.push(...((await source.read({ maxRecords: 10, signal }).catch(() => [])) ?? []));
          return values(after);
        },
        { timeout: 30_000, interval: 200 },
      )
      .toContain("2");
    await source.close();
    back.disconnect();
  });
});
