// Wire compatibility with Apache Pulsar's own Java client (the one shipped with the broker): key routing, and every
// codec with batching in both directions. Uses the broker's jars (resolved through tooling/services) and Java's
// single-file source launcher for test/java/Interop.java; never skipped.
import zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { type CompressionType, MessageId } from "../src/index.ts";
import { newAdmin, newClient, uniqueTopic } from "./helpers.ts";
import { interop as java } from "./java-helper.ts";
import { generatorRecords } from "./payloads.ts";

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());
const CODECS: CompressionType[] = ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"];

describe("interoperability with the Java client", () => {
  it("keyed messages go to the same partitions as with the Java client's default router", async () => {
    const topic = uniqueTopic("java-route");
    await admin.createPartitionedTopic(topic, 7);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i * 7919}`).concat([
      "a",
      "Z",
      "ключ",
      "emoji-🙂",
      "x".repeat(64),
    ]);
    const javaChoice = new Map(
      (await java("route", topic, ...keys)).map(([, key, partition]) => [key!, Number(partition)]),
    );
    expect(javaChoice.size).toBe(keys.length);
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    for (const key of keys) {
      const id = await producer.send({ value: Buffer.from(key), key });
      expect({ key, partition: id.partition }).toEqual({ key, partition: javaChoice.get(key) });
    }
    await producer.close();
  });

  it("reads what the Java client produced with every codec and batching", async () => {
    const prefix = uniqueTopic("from-java");
    const count = 200;
    const consumers = await Promise.all(
      CODECS.map((c) =>
        client.subscribe({ topic: `${prefix}-${c}`, subscription: "ts", subscriptionInitialPosition: "Earliest" }),
      ),
    );
    expect((await java("produce", prefix, String(count))).map((r) => r[1])).toEqual(CODECS);
    for (const [idx, codec] of CODECS.entries()) {
      const consumer = consumers[idx]!;
      let batched = 0;
      for (let i = 0; i < count; i++) {
        const m = await consumer.receive(10_000);
        expect(m.data.toString()).toBe(`java-${codec}-${i}`);
        expect(m.key).toBe(`k${i % 7}`);
        expect(m.properties).toEqual({ i: String(i) });
        expect(m.eventTime).toBe(1000 + i);
        expect(m.sequenceId).toBe(BigInt(i));
        if (m.messageId.batchIndex > 0) batched++;
        await consumer.acknowledge(m);
      }
      expect(batched).toBeGreaterThan(0);
      await consumer.close();
    }
  });

  it("the Java client reads what this client produced with every codec and batching", async () => {
    const topic = uniqueTopic("to-java");
    const per = 100;
    const ids: MessageId[] = [];
    for (const codec of CODECS) {
      const producer = await client.createProducer({ topic, compressionType: codec, batchingMaxMessages: 30 });
      const sent = await Promise.all(
        Array.from({ length: per }, (_, i) =>
          producer.send({
            value: Buffer.from(`ts-${codec}-${i}`),
            key: `k${i % 5}`,
            properties: { c: codec },
            eventTime: 2000 + i,
          }),
        ),
      );
      ids.push(...sent);
      await producer.close();
    }
    const rows = await java("consume", topic, String(per * CODECS.length));
    expect(rows.length).toBe(per * CODECS.length);
    rows.forEach(([, value, key, props, eventTime, , serializedId], n) => {
      const codec = CODECS[Math.floor(n / per)]!;
      const i = n % per;
      expect([value, key, props, eventTime]).toEqual([
        `ts-${codec}-${i}`,
        `k${i % 5}`,
        `c=${codec};`,
        String(2000 + i),
      ]);
      // Message ids serialized by the Java client deserialize to the ids this client's receipts returned.
      expect(MessageId.deserialize(Buffer.from(serializedId!, "base64")).compareTo(ids[n]!)).toBe(0);
    });
  });

  it("chunked messages: Java's chunks are reassembled here, and ours by the Java client", async () => {
    const size = 1_234_567;
    const expected = Buffer.alloc(size);
    for (let i = 0; i < size; i++) expected[i] = (i * 31) % 251;
    const fromJava = uniqueTopic("chunk-from-java");
    const consumer = await client.subscribe({
      topic: fromJava,
      subscription: "ts",
      subscriptionInitialPosition: "Earliest",
    });
    await java("produce-chunked", fromJava, String(size));
    const m = await consumer.receive(20_000);
    expect(m.key).toBe("chunked");
    expect(m.data.equals(expected)).toBe(true);
    await consumer.acknowledge(m);
    await consumer.close();

    const toJava = uniqueTopic("chunk-to-java");
    const producer = await client.createProducer({
      topic: toJava,
      chunkingEnabled: true,
      chunkMaxMessageSize: 100_000,
      compressionType: "ZSTD",
    });
    await producer.send({ value: expected, key: "ours" });
    await producer.close();
    const rows = await java("consume", toJava, "1");
    const [, , key, , , , , length, crc] = rows[0]!;
    expect([key, Number(length), Number(crc)]).toEqual(["ours", size, zlib.crc32(expected)]);
  });

  it("30,000 data-generator orders, LZ4-batched as the source runtime sends them, are read whole by the Java client", async () => {
    const topic = uniqueTopic("orders-lz4-to-java");
    const records = await generatorRecords("orders", 30_000);
    const producer = await client.createProducer({
      topic,
      compressionType: "LZ4",
      batchingMaxMessages: 1000,
      batchingMaxBytes: 128 * 1024,
    });
    const eventTime = 1_700_000_000_000;
    await Promise.all(records.map((value, i) => producer.send({ value, key: String(i + 1), eventTime })));
    await producer.close();
    const rows = await java("consume", topic, String(records.length));
    expect(rows.length).toBe(records.length);
    const wrong = rows.filter(
      ([, value, key, , time], i) =>
        value !== records[i]!.toString() || key !== String(i + 1) || time !== String(eventTime),
    );
    expect(wrong.slice(0, 3)).toEqual([]);
  }, 300_000);
});
