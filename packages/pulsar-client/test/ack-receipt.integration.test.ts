// Acknowledgements with a receipt (ackReceiptEnabled): the promise settles on the broker's answer, so once it resolved
// the broker's cursor has moved (no polling), and a consumer that is not connected learns that nothing was sent.
// Apache Pulsar's Java client, with its own ack receipt on, is the oracle of what the subscription still holds.
import { afterAll, describe, expect, it } from "vitest";
import type { Message } from "../src/index.ts";
import { newAdmin, newClient, subscriptionBacklog, uniqueName, uniqueTopic, waitFor } from "./helpers.ts";
import { interop } from "./java-helper.ts";

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

/** Sends `values` as one batch entry (batching on, the batch flushed once all are queued). */
async function produceOneEntry(topic: string, values: string[]): Promise<void> {
  const producer = await client.createProducer({
    topic,
    batchingEnabled: true,
    batchingMaxMessages: values.length,
    batchingMaxPublishDelayMs: 10_000,
  });
  await Promise.all(values.map((value) => producer.send({ value: Buffer.from(value) })));
  await producer.close();
}

async function produceEach(topic: string, values: string[]): Promise<void> {
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  for (const value of values) await producer.send({ value: Buffer.from(value) });
  await producer.close();
}

async function receiveAll(consumer: { receive(timeoutMs?: number): Promise<Message> }, n: number) {
  const messages: Message[] = [];
  for (let i = 0; i < n; i++) messages.push(await consumer.receive(20_000));
  return messages;
}

describe("acknowledgements with a receipt", () => {
  it("refuses an ackReceiptEnabled that is not a boolean, naming it", async () => {
    await expect(
      client.subscribe({
        topic: uniqueTopic("receipt-invalid"),
        subscription: "s",
        ackReceiptEnabled: "yes" as unknown as boolean,
      }),
    ).rejects.toMatchObject({ code: "INVALID_CONFIG", message: expect.stringContaining("ackReceiptEnabled") });
  });

  it("an individual ack resolves once the broker moved the cursor", async () => {
    const topic = uniqueTopic("receipt-individual");
    const subscription = uniqueName("sub");
    const consumer = await client.subscribe({
      topic,
      subscription,
      subscriptionInitialPosition: "Earliest",
      ackReceiptEnabled: true,
    });
    await produceEach(topic, ["a", "b", "c"]);
    const messages = await receiveAll(consumer, 3);
    for (const [i, message] of messages.entries()) {
      await consumer.acknowledge(message);
      // Read right after the promise resolved, without waiting: the broker has applied the ack already.
      expect(await subscriptionBacklog(admin, topic, subscription)).toBe(2 - i);
    }
    await consumer.close();
  });

  it("a cumulative ack resolves once the broker moved the cursor", async () => {
    const topic = uniqueTopic("receipt-cumulative");
    const subscription = uniqueName("sub");
    const consumer = await client.subscribe({
      topic,
      subscription,
      subscriptionInitialPosition: "Earliest",
      ackReceiptEnabled: true,
    });
    await produceEach(topic, ["a", "b", "c", "d"]);
    const messages = await receiveAll(consumer, 4);
    await consumer.acknowledgeCumulative(messages[2] as Message);
    expect(await subscriptionBacklog(admin, topic, subscription)).toBe(1);
    await consumer.close();
  });

  it("acks inside a batch send nothing until the whole entry is acknowledged, then the broker confirms it", async () => {
    const topic = uniqueTopic("receipt-batch");
    const subscription = uniqueName("sub");
    const consumer = await client.subscribe({
      topic,
      subscription,
      subscriptionInitialPosition: "Earliest",
      ackReceiptEnabled: true,
    });
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    await produceOneEntry(topic, values);
    const messages = await receiveAll(consumer, values.length);
    expect(new Set(messages.map((m) => m.messageId.entryId)).size, "one entry").toBe(1);
    for (const message of messages.slice(0, -1)) await consumer.acknowledge(message);
    expect(await subscriptionBacklog(admin, topic, subscription), "the entry is not acknowledged yet").toBe(1);
    await consumer.acknowledge(messages.at(-1) as Message);
    expect(await subscriptionBacklog(admin, topic, subscription)).toBe(0);
    await consumer.close();
  });

  it("rejects while disconnected, sends nothing, and the message comes again after the reconnect", async () => {
    const topic = uniqueTopic("receipt-disconnected");
    const subscription = uniqueName("sub");
    await produceEach(topic, ["warm-up"]);
    // A client whose broker connection we can cut: its pool is private.
    const own = newClient();
    try {
      const consumer = await own.subscribe({
        topic,
        subscription,
        subscriptionInitialPosition: "Earliest",
        ackReceiptEnabled: true,
      });
      const message = await consumer.receive(20_000);
      // Unloading the topic closes the consumer on the broker; the ack is made the moment the client learns it, before
      // it subscribes again (the client's partition consumer is reached through its internals, test only).
      const part = (consumer as unknown as { parts: Array<{ onBrokerClose(conn: unknown): void }> }).parts[0];
      if (!part) throw new Error("no partition consumer");
      const onBrokerClose = part.onBrokerClose.bind(part);
      let ack: Promise<unknown> | undefined;
      part.onBrokerClose = (conn) => {
        onBrokerClose(conn);
        ack ??= consumer.acknowledge(message).then(
          () => "resolved",
          (error: unknown) => error,
        );
      };
      await admin.unloadTopic(topic);
      await waitFor(() => ack !== undefined, 20_000, "the broker to close the consumer");
      expect(await ack).toMatchObject({ code: "CONNECTION_FAILED" });
      const again = await consumer.receive(30_000);
      expect(again.data.toString()).toBe("warm-up");
      await consumer.acknowledge(again);
      expect(await subscriptionBacklog(admin, topic, subscription)).toBe(0);
      await consumer.close();
    } finally {
      await own.close();
    }
  });

  it("the Java client, with its ack receipt on, finds exactly the messages not acknowledged here", {
    timeout: 240_000,
  }, async () => {
    const topic = uniqueTopic("receipt-java");
    const subscription = uniqueName("sub");
    const consumer = await client.subscribe({
      topic,
      subscription,
      subscriptionInitialPosition: "Earliest",
      ackReceiptEnabled: true,
    });
    // Two batch entries and single messages: the first entry and two singles are acknowledged here.
    await produceOneEntry(topic, ["e1-0", "e1-1", "e1-2"]);
    await produceOneEntry(topic, ["e2-0", "e2-1", "e2-2"]);
    await produceEach(topic, ["s0", "s1", "s2"]);
    const messages = await receiveAll(consumer, 9);
    const acked = new Set(["e1-0", "e1-1", "e1-2", "e2-0", "s0", "s2"]);
    for (const message of messages) if (acked.has(message.data.toString())) await consumer.acknowledge(message);
    await consumer.close();
    const rows = await interop("drain-with-receipts", topic, subscription, "3000");
    // e2-0 was acknowledged in an entry whose other messages were not: the broker keeps the whole entry.
    expect(rows.map((row) => row[1]).sort()).toEqual(["e2-0", "e2-1", "e2-2", "s1"]);
    // The Java consumer's own receipts confirmed its acks: nothing is left.
    await waitFor(async () => (await subscriptionBacklog(admin, topic, subscription)) === 0, 10_000, "empty backlog");
  });
});
