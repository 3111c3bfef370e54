import { afterAll, describe, expect, it } from "vitest";
import { type CompressionType, MessageId } from "../src/index.ts";
import { newClient, uniqueTopic } from "./helpers.ts";

const client = newClient();
afterAll(() => client.close());

describe("produce and consume", () => {
  it("round-trips value, key, properties, event time and ids", async () => {
    const topic = uniqueTopic("roundtrip");
    const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
    const producer = await client.createProducer({ topic, producerName: "rt-producer", batchingEnabled: false });
    const sent = await producer.send({
      value: Buffer.from("hello"),
      key: "k1",
      properties: { a: "1", b: "two" },
      eventTime: 1_700_000_000_123,
    });
    expect(sent.ledgerId).toBeGreaterThanOrEqual(0n);
    const msg = await consumer.receive(10_000);
    expect(msg.data.toString()).toBe("hello");
    expect(msg.key).toBe("k1");
    expect(msg.properties).toEqual({ a: "1", b: "two" });
    expect(msg.eventTime).toBe(1_700_000_000_123);
    expect(msg.publishTime).toBeGreaterThan(Date.now() - 60_000);
    expect(msg.producerName).toBe("rt-producer");
    expect(msg.sequenceId).toBe(0n);
    expect(msg.topic).toBe(topic);
    expect(msg.messageId.compareTo(sent)).toBe(0);
    expect(msg.redeliveryCount).toBe(0);
    expect(MessageId.deserialize(msg.messageId.serialize()).toString()).toBe(msg.messageId.toString());
    await consumer.acknowledge(msg);
    expect(producer.lastSequenceId).toBe(0n);
    await producer.close();
    await consumer.close();
  });

  it.each(["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"] as CompressionType[])(
    "%s with batching round-trips 500 messages in order",
    async (compressionType) => {
      const topic = uniqueTopic(`codec-${compressionType.toLowerCase()}`);
      const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
      const producer = await client.createProducer({
        topic,
        compressionType,
        batchingEnabled: true,
        batchingMaxMessages: 100,
        batchingMaxPublishDelayMs: 20,
      });
      const n = 500;
      const ids = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          producer.send({
            value: Buffer.from(`message-${i}-${"x".repeat(i % 50)}`),
            key: `key-${i % 7}`,
            properties: { i: String(i) },
          }),
        ),
      );
      expect(ids.some((id) => id.batchIndex > 0)).toBe(true);
      for (let i = 0; i < n; i++) {
        const msg = await consumer.receive(10_000);
        expect(msg.data.toString()).toBe(`message-${i}-${"x".repeat(i % 50)}`);
        expect(msg.key).toBe(`key-${i % 7}`);
        expect(msg.properties.i).toBe(String(i));
        expect(msg.messageId.compareTo(ids[i]!)).toBe(0);
        await consumer.acknowledge(msg);
      }
      await producer.close();
      await consumer.close();
    },
  );

  it("a message close to the 5 MB limit round-trips; flush() waits for receipts", async () => {
    const topic = uniqueTopic("large");
    const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
    const producer = await client.createProducer({ topic, batchingMaxPublishDelayMs: 60_000 });
    const big = Buffer.alloc(5 * 1024 * 1024 - 4096);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const receipts: MessageId[] = [];
    const small = producer.send({ value: Buffer.from("small first") }).then((id) => receipts.push(id));
    const large = producer.send({ value: big }).then((id) => receipts.push(id));
    await producer.flush();
    expect(receipts.length).toBe(2);
    await Promise.all([small, large]);
    expect((await consumer.receive(20_000)).data.toString()).toBe("small first");
    const m = await consumer.receive(20_000);
    expect(m.data.equals(big)).toBe(true);
    await producer.close();
    await consumer.close();
  });

  it("batchingFlushWhenIdle: messages sent in one turn share a batch that goes without waiting for the delay", async () => {
    const topic = uniqueTopic("idle-flush");
    // A publish delay far beyond the test's patience: a receipt can only come from the idle flush.
    const producer = await client.createProducer({
      topic,
      batchingMaxPublishDelayMs: 600_000,
      batchingFlushWhenIdle: true,
    });
    const within = <T>(promise: Promise<T>) =>
      Promise.race([
        promise,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no receipt within 30 s")), 30_000)),
      ]);
    const together = await within(
      Promise.all([1, 2, 3, 4, 5].map((n) => producer.send({ value: Buffer.from(`m${n}`) }))),
    );
    expect(new Set(together.map((id) => `${id.ledgerId}:${id.entryId}`)).size).toBe(1);
    expect(together.map((id) => id.batchIndex)).toEqual([0, 1, 2, 3, 4]);
    const alone = await within(producer.send({ value: Buffer.from("alone") }));
    expect(alone.entryId).toBeGreaterThan(together[0]?.entryId ?? 0n);
    await producer.close();
  }, 90_000);

  it("exclusive access mode refuses a second producer; delayed delivery waits", async () => {
    const topic = uniqueTopic("access");
    const p1 = await client.createProducer({ topic, accessMode: "Exclusive" });
    const other = newClient({ operationTimeoutMs: 2000 });
    const err = await other.createProducer({ topic, accessMode: "Shared" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: expect.stringMatching(/PRODUCER_BUSY|PRODUCER_FENCED/) });
    await other.close();
    const consumer = await client.subscribe({ topic, subscription: "s", subscriptionType: "Shared" });
    const t0 = Date.now();
    await p1.send({ value: Buffer.from("later"), deliverAt: Date.now() + 1500 });
    await p1.send({ value: Buffer.from("now") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("now");
    expect((await consumer.receive(10_000)).data.toString()).toBe("later");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect((await consumer.getLastMessageId()).entryId).toBe(1n);
    await p1.close();
    await consumer.close();
  });

  it("chunking carries a 12 MB message through a 5 MB broker limit; acked chunks are not redelivered", async () => {
    const topic = uniqueTopic("chunked");
    const opts = { topic, subscription: "s", subscriptionInitialPosition: "Earliest" as const };
    const consumer = await client.subscribe(opts);
    const producer = await client.createProducer({ topic, chunkingEnabled: true });
    const big = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const [id] = await Promise.all([
      producer.send({ value: big, key: "big" }),
      producer.send({ value: Buffer.from("small") }),
    ]);
    expect(id.ledgerId).toBeGreaterThanOrEqual(0n);
    const m = await consumer.receive(30_000);
    expect(m.key).toBe("big");
    expect(m.data.equals(big)).toBe(true);
    await consumer.acknowledge(m);
    const small = await consumer.receive(10_000);
    expect(small.data.toString()).toBe("small");
    await consumer.acknowledge(small);
    await consumer.close();
    const again = await client.subscribe(opts);
    await expect(again.receive(1500)).rejects.toMatchObject({ code: "TIMEOUT" });
    await again.close();
    await producer.close();
  });

  it("non-persistent topics work", async () => {
    const topic = `non-persistent://public/default/np-${Date.now()}`;
    const consumer = await client.subscribe({ topic, subscription: "s" });
    const producer = await client.createProducer({ topic });
    await producer.send({ value: Buffer.from("volatile") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("volatile");
    await producer.close();
    await consumer.close();
  });

  it("async iteration and backpressure with a small pending queue", async () => {
    const topic = uniqueTopic("iter");
    const consumer = await client.subscribe({
      topic,
      subscription: "s",
      subscriptionInitialPosition: "Earliest",
      receiverQueueSize: 10,
    });
    const producer = await client.createProducer({ topic, maxPendingMessages: 5, batchingEnabled: false });
    const sends = Array.from({ length: 200 }, (_, i) => producer.send({ value: Buffer.from(String(i)) }));
    await Promise.all(sends);
    const got: string[] = [];
    for await (const msg of consumer) {
      got.push(msg.data.toString());
      await consumer.acknowledge(msg);
      if (got.length === 200) break;
    }
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    await producer.close();
    await consumer.close();
  });
});
