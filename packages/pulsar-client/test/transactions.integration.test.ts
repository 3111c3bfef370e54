import { afterAll, describe, expect, it } from "vitest";
import type { Message } from "../src/index.ts";
import { newClient, uniqueTopic } from "./helpers.ts";

const client = newClient();
afterAll(() => client.close());

/** Everything the consumer receives until it waits `ms` for nothing; any error other than that timeout fails. */
async function drain(consumer: { receive(t?: number): Promise<Message> }, ms = 1500): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    try {
      out.push((await consumer.receive(ms)).data.toString());
    } catch (error) {
      if ((error as { code?: string }).code !== "TIMEOUT") throw error;
      return out;
    }
  }
}

describe("transactions", () => {
  it("commit makes produced messages visible; abort discards them", async () => {
    const topic = uniqueTopic("txn");
    const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
    const producer = await client.createProducer({ topic, sendTimeoutMs: 0 });

    const committed = await client.newTransaction({ timeoutMs: 30_000 });
    expect(committed.state).toBe("OPEN");
    await Promise.all([0, 1, 2].map((i) => producer.send({ value: Buffer.from(`c-${i}`), txn: committed })));
    expect(await drain(consumer, 800)).toEqual([]);
    await committed.commit();
    expect(committed.state).toBe("COMMITTED");
    expect(await drain(consumer)).toEqual(["c-0", "c-1", "c-2"]);

    const aborted = await client.newTransaction();
    await Promise.all([0, 1].map((i) => producer.send({ value: Buffer.from(`a-${i}`), txn: aborted })));
    await aborted.abort();
    expect(aborted.state).toBe("ABORTED");
    await producer.send({ value: Buffer.from("plain") });
    expect(await drain(consumer)).toEqual(["plain"]);
    await expect(producer.send({ value: Buffer.from("late"), txn: aborted })).rejects.toMatchObject({
      code: "INVALID_TXN_STATUS",
    });
    await producer.close();
    await consumer.close();
  });

  it("consume-transform-produce: acks and output commit together", async () => {
    const input = uniqueTopic("txn-in");
    const output = uniqueTopic("txn-out");
    const inProducer = await client.createProducer({ topic: input, batchingEnabled: false });
    await inProducer.send({ value: Buffer.from("x") });
    const opts = {
      topic: input,
      subscription: "proc",
      subscriptionType: "Shared" as const,
      subscriptionInitialPosition: "Earliest" as const,
    };
    const consumer = await client.subscribe(opts);
    const outConsumer = await client.subscribe({
      topic: output,
      subscription: "check",
      subscriptionInitialPosition: "Earliest",
    });
    const outProducer = await client.createProducer({ topic: output, sendTimeoutMs: 0 });

    // Aborted step: output discarded, ack released, input delivered again after reconnecting.
    const m = await consumer.receive(10_000);
    const t1 = await client.newTransaction();
    await outProducer.send({ value: Buffer.from(`${m.data}-out`), txn: t1 });
    await consumer.acknowledge(m, { txn: t1 });
    await t1.abort();
    await consumer.close();
    const consumer2 = await client.subscribe(opts);
    const again = await consumer2.receive(10_000);
    expect(again.data.toString()).toBe("x");

    const t2 = await client.newTransaction();
    await outProducer.send({ value: Buffer.from(`${again.data}-out`), txn: t2 });
    await consumer2.acknowledge(again, { txn: t2 });
    await t2.commit();
    expect(await drain(outConsumer)).toEqual(["x-out"]);
    await consumer2.close();
    const consumer3 = await client.subscribe(opts);
    expect(await drain(consumer3)).toEqual([]);
    await Promise.all([consumer3.close(), outConsumer.close(), inProducer.close(), outProducer.close()]);
  });

  it("a transaction that outlives its timeout is aborted by the coordinator", async () => {
    const topic = uniqueTopic("txn-timeout");
    const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
    const producer = await client.createProducer({ topic });
    const txn = await client.newTransaction({ timeoutMs: 1000 });
    await producer.send({ value: Buffer.from("never"), txn });
    await new Promise((r) => setTimeout(r, 3000));
    // The coordinator has dropped the timed-out transaction: a commit finds nothing to commit.
    await expect(txn.commit()).rejects.toMatchObject({ code: "TRANSACTION_NOT_FOUND" });
    expect(await drain(consumer)).toEqual([]);
    await producer.close();
    await consumer.close();
  });
});
