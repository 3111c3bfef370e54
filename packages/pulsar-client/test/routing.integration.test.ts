import { afterAll, describe, expect, it } from "vitest";
import { newAdmin, newClient, uniqueTopic, waitFor } from "./helpers.ts";

// Independent re-implementations of the Java client's key hashes, written from the algorithm descriptions
// (Java String.hashCode; MurmurHash3_x86_32 with seed 0 over UTF-8), then `& Integer.MAX_VALUE`, `% partitions`.
function javaHashCode(s: string): number {
  let h = 0;
  for (const unit of Array.from({ length: s.length }, (_, i) => s.charCodeAt(i))) h = (h * 31 + unit) % 2 ** 32;
  return h >= 2 ** 31 ? h - 2 ** 32 : h;
}
function murmur3(bytes: Buffer): number {
  const mul = (a: number, b: number) => Number((BigInt(a >>> 0) * BigInt(b >>> 0)) & 0xffffffffn);
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  let h = 0;
  const nblocks = Math.floor(bytes.length / 4);
  for (let i = 0; i < nblocks; i++) {
    let k = bytes.readUInt32LE(i * 4);
    k = mul(rotl(mul(k, 0xcc9e2d51), 15), 0x1b873593);
    h = (mul(rotl((h ^ k) >>> 0, 13), 5) + 0xe6546b64) >>> 0;
  }
  let k = 0;
  const tail = bytes.subarray(nblocks * 4);
  for (let i = tail.length - 1; i >= 0; i--) k = ((k << 8) | tail[i]!) >>> 0;
  if (tail.length > 0) h = (h ^ mul(rotl(mul(k, 0xcc9e2d51), 15), 0x1b873593)) >>> 0;
  h = (h ^ bytes.length) >>> 0;
  h = mul(h ^ (h >>> 16), 0x85ebca6b);
  h = mul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return h | 0;
}
const expectedPartition = (hash: number, n: number) => (hash & 0x7fffffff) % n;

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

const KEYS = [
  "user-1",
  "user-2",
  "order-42",
  "a",
  "B",
  "polygenelubricants",
  "ключ",
  "🙂-emoji",
  "key with spaces",
  "x".repeat(100),
];

describe("partitioned topic key routing", () => {
  it("reference hashes match fixed known vectors", () => {
    expect(javaHashCode("hello")).toBe(99162322);
    expect(murmur3(Buffer.from("hello")) >>> 0).toBe(0x248bfa47);
    expect(murmur3(Buffer.from("The quick brown fox jumps over the lazy dog")) >>> 0).toBe(0x2e4ff723);
  });

  for (const scheme of ["JavaStringHash", "Murmur3_32Hash"] as const) {
    it(`${scheme}: each key lands on the partition the Java default router picks`, async () => {
      const topic = uniqueTopic(`route-${scheme.toLowerCase()}`);
      const n = 5;
      await admin.createPartitionedTopic(topic, n);
      const consumers = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.subscribe({
            topic: `${topic}-partition-${i}`,
            subscription: "s",
            subscriptionInitialPosition: "Earliest",
          }),
        ),
      );
      const producer = await client.createProducer({ topic, hashingScheme: scheme, batchingMaxPublishDelayMs: 5 });
      expect(producer.numPartitions).toBe(n);
      const ids = await Promise.all(KEYS.map((key) => producer.send({ value: Buffer.from(key), key })));
      const hash = (k: string) => (scheme === "JavaStringHash" ? javaHashCode(k) : murmur3(Buffer.from(k, "utf8")));
      KEYS.forEach((key, i) => {
        expect(ids[i]!.partition).toBe(expectedPartition(hash(key), n));
      });
      // And the broker really stored them there.
      let seen = 0;
      for (let p = 0; p < n; p++) {
        const expectedKeys = KEYS.filter((k) => expectedPartition(hash(k), n) === p);
        for (let j = 0; j < expectedKeys.length; j++) {
          const msg = await consumers[p]!.receive(10_000);
          expect(expectedKeys).toContain(msg.key);
          expect(msg.messageId.partition).toBe(p);
          seen++;
        }
      }
      expect(seen).toBe(KEYS.length);
      // Messages without a key are spread round-robin over all partitions.
      const rr = await Promise.all(
        Array.from({ length: 10 }, (_, i) => producer.send({ value: Buffer.from(String(i)) })),
      );
      expect(new Set(rr.map((id) => id.partition)).size).toBe(n);
      await producer.close();
      await Promise.all(consumers.map((c) => c.close()));
    });
  }

  it("a multi-topic consumer reads a partitioned topic and a plain topic", async () => {
    const partitioned = uniqueTopic("multi-p");
    const plain = uniqueTopic("multi-plain");
    await admin.createPartitionedTopic(partitioned, 3);
    const consumer = await client.subscribe({
      topics: [partitioned, plain],
      subscription: "s",
      subscriptionType: "Shared",
      subscriptionInitialPosition: "Earliest",
    });
    expect(consumer.topics.length).toBe(4);
    const p1 = await client.createProducer({ topic: partitioned, batchingEnabled: false });
    const p2 = await client.createProducer({ topic: plain });
    await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => p1.send({ value: Buffer.from(`p-${i}`) })),
      ...Array.from({ length: 10 }, (_, i) => p2.send({ value: Buffer.from(`plain-${i}`) })),
    ]);
    const got = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const m = await consumer.receive(10_000);
      got.add(m.data.toString());
      await consumer.acknowledge(m.messageId);
    }
    expect(got.size).toBe(40);
    await consumer.close();
    const pattern = await client.subscribe({
      topicsPattern: `persistent://public/default/${plain.split("/").pop()}.*`,
      subscription: "pattern",
      subscriptionInitialPosition: "Earliest",
    });
    expect(pattern.topics).toEqual([plain]);
    expect((await pattern.receive(10_000)).data.toString()).toBe("plain-0");
    await pattern.close();
    await p1.close();
    await p2.close();
  });
});

describe("topology changes", () => {
  it("producers and consumers pick up added partitions; pattern consumers pick up new topics", async () => {
    const topic = uniqueTopic("grow");
    await admin.createPartitionedTopic(topic, 2);
    const consumer = await client.subscribe({
      topic,
      subscription: "s",
      subscriptionType: "Shared",
      subscriptionInitialPosition: "Earliest",
      autoUpdatePartitionsIntervalMs: 300,
    });
    const producer = await client.createProducer({
      topic,
      batchingEnabled: false,
      autoUpdatePartitionsIntervalMs: 300,
    });
    expect(producer.numPartitions).toBe(2);
    await admin.updatePartitionedTopic(topic, 4);
    await waitFor(() => producer.numPartitions === 4 && consumer.topics.length === 4, 15_000, "4 partitions");
    const ids = await Promise.all(
      Array.from({ length: 8 }, (_, i) => producer.send({ value: Buffer.from(String(i)) })),
    );
    expect(new Set(ids.map((id) => id.partition))).toEqual(new Set([0, 1, 2, 3]));
    const got = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const m = await consumer.receive(10_000);
      got.add(m.data.toString());
      await consumer.acknowledge(m);
    }
    expect(got.size).toBe(8);
    await producer.close();
    await consumer.close();

    const prefix = uniqueTopic("pattern");
    const first = `${prefix}-a`;
    const p1 = await client.createProducer({ topic: first });
    await p1.send({ value: Buffer.from("a") });
    const pattern = await client.subscribe({
      topicsPattern: new RegExp(`${prefix}-.*`),
      subscription: "p",
      subscriptionInitialPosition: "Earliest",
      patternAutoDiscoveryPeriodMs: 300,
    });
    expect(pattern.topics).toEqual([first]);
    const second = `${prefix}-b`;
    const p2 = await client.createProducer({ topic: second });
    await waitFor(() => pattern.topics.length === 2, 15_000, "the new topic");
    await p2.send({ value: Buffer.from("b") });
    const texts = [(await pattern.receive(10_000)).data.toString(), (await pattern.receive(10_000)).data.toString()];
    expect(texts.sort()).toEqual(["a", "b"]);
    await Promise.all([p1.close(), p2.close(), pattern.close()]);
  });
});
