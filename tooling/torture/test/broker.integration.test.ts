import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, expect, it } from "vitest";
import { Broker } from "../src/internal/broker.ts";

// The harness blames the runtime for every lost record, so its broker must not lose any itself: what it
// acknowledged is still there after kill -9, and so is the cursor position of an acknowledged subscription.
const dir = mkdtempSync(join(tmpdir(), "torture-broker-"));
const broker = new Broker(dir, { broker: 6692, web: 8092, bookie: 3193 });
afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("the harness's broker keeps acknowledged messages and acknowledgements across kill -9", async () => {
  await broker.create();
  const topic = `persistent://public/default/durable-${Date.now().toString(36)}`;
  let client = new PulsarClient({ serviceUrl: broker.serviceUrl });
  const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  for (let i = 0; i < 200; i++) await producer.send({ value: Buffer.from(String(i)) });
  for (let i = 0; i < 100; i++) {
    const message = await consumer.receive(10_000);
    await consumer.acknowledge(message);
  }
  // Acknowledgements carry no receipt: wait until the broker's subscription shows all 100 of them.
  const stats = `${broker.webServiceUrl}/admin/v2/${topic.replace("persistent://", "persistent/")}/stats`;
  for (let backlog = -1; backlog !== 100; ) {
    const body = (await (await fetch(stats)).json()) as { subscriptions: Record<string, { msgBacklog: number }> };
    backlog = body.subscriptions.s?.msgBacklog ?? -1;
  }
  broker.kill();
  await broker.waitGone();
  await client.close().catch(() => {});

  await broker.start();
  client = new PulsarClient({ serviceUrl: broker.serviceUrl });
  const again = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
  const seen: number[] = [];
  for (;;) {
    const message = await again.receive(5_000).catch(() => undefined);
    if (!message) break;
    seen.push(Number(message.data.toString()));
  }
  // And every message the broker acknowledged to the producer, from the start.
  const reader = await client.subscribe({ topic, subscription: "fresh", subscriptionInitialPosition: "Earliest" });
  let all = 0;
  while (await reader.receive(5_000).catch(() => undefined)) all++;
  await client.close();
  expect(all).toBe(200);
  expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 100));
}, 300_000);
