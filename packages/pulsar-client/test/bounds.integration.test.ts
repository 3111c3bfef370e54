// Memory bounds of the consumer: a message is not decompressed into more than maxUncompressedMessageSize, chunked
// messages are bounded in size and time, and chunks that can never complete are acknowledged instead of staying on
// the subscription forever.
import { afterAll, describe, expect, it } from "vitest";
import { isPulsarClientError, MessageId, type PulsarClientError } from "../src/index.ts";
import { expectBacklog, newAdmin, newClient, uniqueTopic } from "./helpers.ts";
import { interop } from "./java-helper.ts";

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

async function rejection(p: Promise<unknown>): Promise<PulsarClientError> {
  const outcome = await p.then(
    () => new Error("expected a rejection"),
    (err: unknown) => err,
  );
  if (!isPulsarClientError(outcome)) throw outcome;
  return outcome;
}

/** Sends one chunked message of `size` bytes in chunks of about 100 kB; returns the ids of its chunks. */
async function sendChunked(topic: string, size: number): Promise<MessageId[]> {
  const producer = await client.createProducer({
    topic,
    chunkingEnabled: true,
    chunkMaxMessageSize: 100_000,
    batchingEnabled: false,
  });
  const last = await producer.send({ value: Buffer.alloc(size, 7) });
  await producer.close();
  const chunks = Math.ceil(size / (100_000 - 2048));
  return Array.from({ length: chunks }, (_, i) => new MessageId(last.ledgerId, last.entryId - BigInt(chunks - 1 - i)));
}

describe("consumer memory bounds", () => {
  it("a message declaring more than maxUncompressedMessageSize is refused before it is decompressed", async () => {
    const topic = uniqueTopic("bound-uncompressed");
    const size = 8 * 1024 * 1024;
    await client.subscribe({ topic, subscription: "small" }).then((c) => c.close());
    await client.subscribe({ topic, subscription: "large" }).then((c) => c.close());
    await interop("produce-large", topic, String(size));

    const bounded = await client.subscribe({
      topic,
      subscription: "small",
      maxUncompressedMessageSize: 4 * 1024 * 1024,
    });
    const err = await rejection(bounded.receive(20_000));
    expect(err.code).toBe("MESSAGE_TOO_BIG");
    expect(err.message).toMatch(/declares 8388608 bytes uncompressed, above maxUncompressedMessageSize/);
    expect(bounded.undecodableMessages).toBe(1);
    await bounded.close();
    await expectBacklog(admin, topic, "small", 1);

    // By default a message is read as the Java client reads it: its producer bounds only the compressed size.
    const raised = await client.subscribe({ topic, subscription: "large" });
    const m = await raised.receive(20_000);
    expect([m.key, m.data.length, m.data.every((b) => b === 0x78)]).toEqual(["large", size, true]);
    await raised.acknowledge(m);
    await raised.close();
  });

  it("a chunked message over maxChunkedMessageSize is one error; acknowledging it acknowledges every chunk", async () => {
    const topic = uniqueTopic("bound-chunked");
    const consumer = await client.subscribe({
      topic,
      subscription: "s",
      subscriptionInitialPosition: "Earliest",
      maxChunkedMessageSize: 300_000,
    });
    await sendChunked(topic, 1_000_000);
    const err = await rejection(consumer.receive(20_000));
    expect(err.code).toBe("MESSAGE_TOO_BIG");
    expect(err.message).toMatch(/maxChunkedMessageSize \(300000\)/);
    await consumer.acknowledge(err.messageId!);
    await expectBacklog(admin, topic, "s", 0);
    await consumer.close();
  });

  it("chunks without their first chunk are acknowledged once older than expireTimeOfIncompleteChunkedMessageMs", async () => {
    const topic = uniqueTopic("orphan-chunks");
    await client.subscribe({ topic, subscription: "s" }).then((c) => c.close());
    const ids = await sendChunked(topic, 500_000);
    expect(ids.length).toBe(6);
    // The first chunk is gone from the subscription (as after a crash between acknowledgements).
    let consumer = await client.subscribe({ topic, subscription: "s" });
    await consumer.acknowledge(ids[0]!);
    await consumer.close();
    await expectBacklog(admin, topic, "s", 5);

    consumer = await client.subscribe({ topic, subscription: "s", expireTimeOfIncompleteChunkedMessageMs: 1 });
    await expectBacklog(admin, topic, "s", 0);
    expect(consumer.expiredChunkCount).toBe(5);
    await consumer.close();
  });

  it("an incomplete chunked message expires after expireTimeOfIncompleteChunkedMessageMs and its chunks are acknowledged", async () => {
    const topic = uniqueTopic("incomplete-chunks");
    await client.subscribe({ topic, subscription: "s" }).then((c) => c.close());
    const ids = await sendChunked(topic, 500_000);
    // The last chunk is gone: the first five can never complete.
    let consumer = await client.subscribe({ topic, subscription: "s" });
    await consumer.acknowledge(ids.at(-1)!);
    await consumer.close();
    await expectBacklog(admin, topic, "s", 5);

    consumer = await client.subscribe({ topic, subscription: "s", expireTimeOfIncompleteChunkedMessageMs: 300 });
    await expectBacklog(admin, topic, "s", 0);
    expect(consumer.expiredChunkCount).toBe(5);
    await consumer.close();
  });

  it("refuses bound settings that are not positive integers", async () => {
    const topic = uniqueTopic("bound-config");
    for (const bad of [
      { maxChunkedMessageSize: 0 },
      { maxPendingChunkedMessage: -1 },
      { maxUncompressedMessageSize: 1.5 },
    ]) {
      const err = await rejection(client.subscribe({ topic, subscription: "s", ...bad }));
      expect(err.code).toBe("INVALID_CONFIG");
      expect(err.message).toContain(Object.keys(bad)[0]);
    }
  });
});

describe("prefetch bounded in bytes", () => {
  interface ConsumerStats {
    availablePermits: number;
    msgOutCounter: number;
  }
  async function brokerView(topic: string, subscription: string): Promise<ConsumerStats | undefined> {
    const stats = (await admin.getTopicStats(topic)) as {
      subscriptions: Record<string, { consumers: ConsumerStats[] }>;
    };
    return stats.subscriptions[subscription]?.consumers[0];
  }

  /** Polls until the broker may send the consumer nothing more: no permits left, or everything delivered. */
  async function settled(topic: string, subscription: string, total: number): Promise<ConsumerStats> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const view = await brokerView(topic, subscription);
      if (view && (view.availablePermits === 0 || view.msgOutCounter === total)) return view;
      if (Date.now() > deadline) throw new Error(`broker still dispatching: ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("holds at most maxPrefetchBytes (plus one message) however large receiverQueueSize is", async () => {
    const topic = uniqueTopic("prefetch-bytes");
    const size = 256 * 1024;
    const total = 40;
    const budget = 1024 * 1024;
    await client.subscribe({ topic, subscription: "s" }).then((c) => c.close());
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    for (let i = 0; i < total; i++) await producer.send({ value: Buffer.alloc(size, i) });
    await producer.close();

    const consumer = await client.subscribe({
      topic,
      subscription: "s",
      receiverQueueSize: 1000,
      maxPrefetchBytes: budget,
    });
    let most = 0;
    for (let taken = 0; taken < total; taken++) {
      const view = await settled(topic, "s", total);
      // Delivered by the broker and not yet taken by the application: what the consumer holds.
      const held = (view.msgOutCounter - taken) * size;
      most = Math.max(most, held);
      expect(held).toBeLessThanOrEqual(budget + size);
      // The broker's counters can lag behind what it sent; the client's own count is held to the same bound.
      expect(consumer.prefetchedBytes).toBeLessThanOrEqual(budget + size);
      const m = await consumer.receive(15_000);
      expect(m.data[0]).toBe(taken);
      await consumer.acknowledge(m);
    }
    expect(most).toBeGreaterThanOrEqual(size);
    await consumer.close();
  });
});
