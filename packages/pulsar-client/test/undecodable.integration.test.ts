// A message the consumer cannot decompress is never acknowledged behind the application's back: receive() rejects
// with an error naming the message, the message stays on the subscription (redelivered after a reconnect) until the
// application acknowledges it, and the consumer counts it.
//
// Test double: this file replaces the client's compress() so that payloads containing "CORRUPT" go out as a broken
// LZ4 block, and maps SNAPPY to a codec number no client knows. The broker does not look into payloads, so this is
// the only way to put such messages on a real topic.
import { afterAll, describe, expect, it, vi } from "vitest";
import { type Consumer, isPulsarClientError, type PulsarClientError } from "../src/index.ts";
import { expectBacklog, newAdmin, newClient, uniqueTopic } from "./helpers.ts";

vi.mock(import("../src/internal/compression.ts"), async (original) => {
  const real = await original();
  return {
    ...real,
    COMPRESSION_CODES: { ...real.COMPRESSION_CODES, SNAPPY: 9 },
    compress: (type, data) => {
      if (type === "LZ4" && Buffer.from(data).includes("CORRUPT")) {
        // One literal, then a match reaching 65535 bytes back: no decoder can expand it.
        return Buffer.from([0x1f, 0x41, 0xff, 0xff, 0x00]);
      }
      return real.compress(type, data);
    },
  };
});

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

async function receiveError(consumer: Consumer): Promise<PulsarClientError> {
  const outcome = await consumer.receive(10_000).then(
    (m) => new Error(`expected an error, got message ${m.data.toString()}`),
    (err: unknown) => err,
  );
  if (!isPulsarClientError(outcome)) throw outcome;
  return outcome;
}

describe("messages that cannot be decoded", () => {
  it("a payload that does not decompress is surfaced, counted and left unacknowledged", async () => {
    const topic = uniqueTopic("undecodable");
    const subscription = "sub";
    let consumer = await client.subscribe({ topic, subscription, subscriptionInitialPosition: "Earliest" });
    const producer = await client.createProducer({ topic, compressionType: "LZ4", batchingEnabled: false });
    for (const value of ["good-1", "CORRUPT-2", "good-3"]) await producer.send({ value: Buffer.from(value) });
    await producer.close();

    const first = await consumer.receive(10_000);
    expect(first.data.toString()).toBe("good-1");
    const err = await receiveError(consumer);
    expect(err.code).toBe("COMPRESSION");
    expect(err.message).toMatch(/LZ4/);
    expect(err.message).toContain(topic);
    expect(err.messageId).toBeDefined();
    expect(consumer.undecodableMessages).toBe(1);
    const third = await consumer.receive(10_000);
    expect(third.data.toString()).toBe("good-3");
    await consumer.acknowledge(first);
    await consumer.acknowledge(third);
    await consumer.close();

    // Not acknowledged: the broker delivers it again to the next consumer of the subscription.
    await expectBacklog(admin, topic, subscription, 1);
    consumer = await client.subscribe({ topic, subscription });
    const again = await receiveError(consumer);
    expect(again.messageId?.compareTo(err.messageId!)).toBe(0);
    // The application decides to drop it, visibly.
    await consumer.acknowledge(again.messageId!);
    await consumer.close();
    await expectBacklog(admin, topic, subscription, 0);
  });

  it("a batch in an unknown codec is one error for the whole entry, and acknowledging it clears the batch", async () => {
    const topic = uniqueTopic("unknown-codec");
    const consumer = await client.subscribe({ topic, subscription: "sub", subscriptionInitialPosition: "Earliest" });
    const producer = await client.createProducer({ topic, compressionType: "SNAPPY", batchingMaxMessages: 10 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ value: Buffer.from(`m${i}`) })));
    await producer.close();
    const err = await receiveError(consumer);
    expect(err.code).toBe("COMPRESSION");
    expect(err.message).toMatch(/compression 9/);
    expect(consumer.undecodableMessages).toBe(10);
    await expectBacklog(admin, topic, "sub", 1); // the broker counts the batch as one entry
    await consumer.acknowledge(err.messageId!);
    await consumer.close();
    await expectBacklog(admin, topic, "sub", 0);
  });
});
