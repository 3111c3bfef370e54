import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAdmin, newClient, uniqueName, waitFor } from "./helpers.ts";

const admin = newAdmin();
const namespace = `public/${uniqueName("dedup")}`;
const client = newClient();

beforeAll(async () => {
  await admin.createNamespace(namespace);
  expect(await admin.getDeduplication(namespace)).toBe(false);
  await admin.setDeduplication(namespace, true);
  await waitFor(() => admin.getDeduplication(namespace), 10_000, "deduplication policy");
});
afterAll(async () => {
  await client.close();
  await admin.deleteNamespace(namespace, { force: true }).catch(() => undefined);
});

async function readAll(topic: string, expected: number): Promise<string[]> {
  const consumer = await client.subscribe({
    topic,
    subscription: uniqueName("check"),
    subscriptionInitialPosition: "Earliest",
  });
  const out: string[] = [];
  for (;;) {
    try {
      const m = await consumer.receive(out.length >= expected ? 1500 : 20_000);
      out.push(m.data.toString());
    } catch {
      break;
    }
  }
  await consumer.close();
  return out;
}

describe("deduplication", () => {
  it("resending the same sequence ids with a stable producer name stores each message once", async () => {
    const topic = `persistent://${namespace}/resend`;
    const p1 = await client.createProducer({ topic, producerName: "stable", batchingEnabled: false, sendTimeoutMs: 0 });
    expect(p1.lastSequenceId).toBe(-1n);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => p1.send({ value: Buffer.from(`m-${i}`), sequenceId: BigInt(i) })),
    );
    expect(p1.lastSequenceId).toBe(99n);
    await p1.close();

    // Not batched: the broker judges a batch by its highest sequence id, so a batch mixing old and new ids is kept whole.
    const p2 = await client.createProducer({ topic, producerName: "stable", batchingEnabled: false, sendTimeoutMs: 0 });
    expect(p2.lastSequenceId).toBe(99n);
    const ids = await Promise.all(
      Array.from({ length: 100 }, (_, j) => p2.send({ value: Buffer.from(`m-${j + 50}`), sequenceId: BigInt(j + 50) })),
    );
    // Duplicates are acknowledged by the broker without being written (ledger/entry -1).
    expect(ids.slice(0, 50).every((id) => id.ledgerId === -1n && id.entryId === -1n)).toBe(true);
    expect(ids.slice(50).every((id) => id.ledgerId >= 0n)).toBe(true);
    await p2.close();

    const got = await readAll(topic, 150);
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => `m-${i}`));
  });

  it("connection dropped and topic unloaded mid-stream: every message exactly once", async () => {
    const topic = `persistent://${namespace}/chaos`;
    const producer = await client.createProducer({
      topic,
      producerName: "chaos-producer",
      sendTimeoutMs: 0,
      batchingMaxMessages: 50,
      batchingMaxPublishDelayMs: 2,
      maxPendingMessages: 500,
    });
    // A consumer on its own client lives through the same drops: it may see redeliveries, never gaps.
    const consumerClient = newClient();
    const live = await consumerClient.subscribe({
      topic,
      subscription: "live",
      subscriptionInitialPosition: "Earliest",
    });
    const total = 3000;
    const liveSeen = new Set<string>();
    const liveDone = (async () => {
      while (liveSeen.size < total) {
        const m = await live.receive(30_000);
        liveSeen.add(m.data.toString());
        await live.acknowledge(m);
      }
    })();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      sends.push(producer.send({ value: Buffer.from(`c-${i}`) }));
      if (i === 700) expect(await client.dropConnectionsForTest()).toBeGreaterThan(0);
      if (i === 1000) expect(await consumerClient.dropConnectionsForTest()).toBeGreaterThan(0);
      if (i === 1500) await admin.unloadTopic(topic);
      if (i === 2200) await client.dropConnectionsForTest();
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(sends);
    expect(producer.lastSequenceId).toBe(BigInt(total - 1));
    await producer.close();
    const got = await readAll(topic, total);
    expect(got.length).toBe(total);
    expect(new Set(got).size).toBe(total);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => `c-${i}`));
    await liveDone;
    expect(liveSeen.size).toBe(total);
    await consumerClient.close();
  });
});
