// A message the client cannot decompress ends the sink instance with a status that names it, and stays on the
// subscription: nothing is acknowledged behind the user's back.
//
// Test double: the client's compress() is replaced so that payloads containing "CORRUPT" go out as a broken LZ4
// block (the broker does not look into payloads, so this is the only way to put such a message on a real topic).
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { SinkInstanceStatusData } from "../src/index.ts";
import { memorySinkInstance } from "./helpers.ts";

interface Compression {
  compress(type: string, data: Uint8Array): Buffer;
}
// By path (a string): the client's internals stay out of this package's type check.
vi.mock("../../pulsar-client/src/internal/compression.ts", async (importOriginal) => {
  const real = await importOriginal<Compression>();
  return {
    ...real,
    compress: (type: string, data: Uint8Array) =>
      type === "LZ4" && Buffer.from(data).includes("CORRUPT")
        ? Buffer.from([0x1f, 0x41, 0xff, 0xff, 0x00])
        : real.compress(type, data),
  };
});

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const client = new PulsarClient({ serviceUrl: SERVICE_URL });
afterAll(() => client.close());

async function backlog(topic: string, subscription: string): Promise<number> {
  const path = topic.replace("persistent://", "");
  const stats = (await (await fetch(`${ADMIN_URL}/admin/v2/persistent/${path}/stats`)).json()) as {
    subscriptions: Record<string, { msgBacklog: number }>;
  };
  return stats.subscriptions[subscription]?.msgBacklog ?? -1;
}

describe("undecodable input", () => {
  it("fails the sink instance with a status naming the message, and acknowledges nothing", async () => {
    const topic = `persistent://public/default/undecodable-${Date.now().toString(36)}`;
    const producer = await client.createProducer({ topic, compressionType: "LZ4", batchingEnabled: false });
    for (const value of ['{"id":1}', "CORRUPT", '{"id":3}']) await producer.send({ value: Buffer.from(value) });
    await producer.close();

    const { instance, config } = memorySinkInstance({
      name: `undecodable-${Date.now().toString(36)}`,
      topic,
      client,
      adminUrl: ADMIN_URL,
    });
    await instance.start();
    const outcome = await instance.done.then(
      () => new Error("the instance ended without an error"),
      (err: unknown) => err as Error,
    );
    expect(outcome.message).toMatch(/cannot decode message .* LZ4 payload/);
    const status = instance.status() as SinkInstanceStatusData;
    expect(status.running).toBe(false);
    expect(status.numSystemExceptions).toBeGreaterThanOrEqual(1);
    expect(status.latestSystemExceptions[0]?.exceptionString).toMatch(/cannot decode message/);
    // The broken message (and what follows it) is still on the subscription.
    expect(await backlog(topic, config.sourceSubscriptionName)).toBeGreaterThanOrEqual(2);
    await instance.stop();
  });
});
