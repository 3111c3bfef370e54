import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { afterAll, describe, expect, inject, it } from "vitest";
import definition from "../src/index.ts";
import { freshBucket, jsonLines, listKeys, s3Client, uniqueName } from "./bucket.ts";

const pulsar = inject("services").pulsar!;
const client = s3Client();
afterAll(() => client.destroy());

async function runSink(configs: Record<string, unknown>, topic: string, pulsarClient: PulsarClient) {
  const resolved = resolveSinkConfig({
    name: uniqueName("sub"),
    archive: "builtin://cloud-storage",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    processingGuarantees: "ATLEAST_ONCE",
    configs,
    secrets: {},
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "sink",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client: pulsarClient, adminUrl: pulsar.webServiceUrl },
  });
  await instance.start();
  return instance;
}

async function produce(pulsarClient: PulsarClient, topic: string, ids: number[]) {
  const producer = await pulsarClient.createProducer({ topic, batchingEnabled: false });
  await Promise.all(ids.map((id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })));
  await producer.close();
}

describe("cloud-storage sink: objects rolled through the runtime", () => {
  it("gathers records that trickle in into one object for up to batchTimeMs", { timeout: 120_000 }, async () => {
    const pulsarClient = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    try {
      const topic = `persistent://public/default/${uniqueName("trickle")}`;
      await produce(pulsarClient, topic, [0]);
      const configs = await freshBucket(client, { batchSize: 100, batchTimeMs: 8000 });
      const instance = await runSink(configs, topic, pulsarClient);
      // Paced sends (the pacing is what is tested): 20 records over about a second, well inside batchTimeMs.
      const producer = await pulsarClient.createProducer({ topic, batchingEnabled: false });
      for (let id = 1; id < 20; id++) {
        await producer.send({ value: Buffer.from(JSON.stringify({ id })) });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await producer.close();
      await expect
        .poll(async () => (await jsonLines(client, configs.bucket as string)).length, { timeout: 60_000 })
        .toBe(20);
      await instance.stop();
      expect(await listKeys(client, configs.bucket as string)).toHaveLength(1);
    } finally {
      await pulsarClient.close();
    }
  });

  it("rolls by batchSize while records keep coming, and by batchTimeMs for the rest", {
    timeout: 120_000,
  }, async () => {
    const pulsarClient = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    try {
      const topic = `persistent://public/default/${uniqueName("rolling")}`;
      await produce(
        pulsarClient,
        topic,
        Array.from({ length: 250 }, (_, id) => id),
      );
      const configs = await freshBucket(client, { batchSize: 100, batchTimeMs: 1500 });
      const instance = await runSink(configs, topic, pulsarClient);
      await expect
        .poll(async () => (await jsonLines(client, configs.bucket as string)).length, { timeout: 60_000 })
        .toBe(250);
      await instance.stop();
      const sizes = await Promise.all(
        (await listKeys(client, configs.bucket as string)).map(async (key) => {
          const match = /(\d+)\.(\d+)_(\d+)\.(\d+)\.json$/.exec(key);
          return match ? Number(match[4]) - Number(match[2]) + 1 : -1;
        }),
      );
      expect(sizes.sort((a, b) => b - a)).toEqual([100, 100, 50]);
    } finally {
      await pulsarClient.close();
    }
  });

  it("rolls by maxBatchBytes", { timeout: 120_000 }, async () => {
    const pulsarClient = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    try {
      const topic = `persistent://public/default/${uniqueName("rolling-bytes")}`;
      // {"id":100} .. {"id":159}: 10 bytes each, so 100 bytes make an object of 10 records.
      await produce(
        pulsarClient,
        topic,
        Array.from({ length: 60 }, (_, i) => 100 + i),
      );
      const configs = await freshBucket(client, { batchSize: 1000, maxBatchBytes: 100, batchTimeMs: 1500 });
      const instance = await runSink(configs, topic, pulsarClient);
      await expect
        .poll(async () => (await jsonLines(client, configs.bucket as string)).length, { timeout: 60_000 })
        .toBe(60);
      await instance.stop();
      expect(await listKeys(client, configs.bucket as string)).toHaveLength(6);
    } finally {
      await pulsarClient.close();
    }
  });
});
