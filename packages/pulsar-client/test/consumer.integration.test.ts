import { afterAll, describe, expect, it } from "vitest";
import { type ActiveConsumerChangeEvent, type Message, MessageId } from "../src/index.ts";
import { newAdmin, newClient, uniqueTopic, waitFor } from "./helpers.ts";

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

async function produce(
  topic: string,
  n: number,
  opts: { batching?: boolean; prefix?: string } = {},
): Promise<MessageId[]> {
  const producer = await client.createProducer({ topic, batchingEnabled: opts.batching ?? false });
  const ids = await Promise.all(
    Array.from({ length: n }, (_, i) => producer.send({ value: Buffer.from(`${opts.prefix ?? "m"}-${i}`) })),
  );
  await producer.close();
  return ids;
}

/** A consumer named `name` of the Failover subscription "fo" of `topic`, from its earliest message. */
function failoverConsumer(topic: string, name: string) {
  return client.subscribe({
    topic,
    subscription: "fo",
    subscriptionType: "Failover",
    consumerName: name,
    subscriptionInitialPosition: "Earliest",
  });
}

async function expectNothing(consumer: { receive(t?: number): Promise<Message> }, ms = 1500): Promise<void> {
  await expect(consumer.receive(ms)).rejects.toMatchObject({ code: "TIMEOUT" });
}

describe("subscriptions", () => {
  it("failover consumers hand over when the active one closes", async () => {
    const topic = uniqueTopic("failover");
    const events: Record<string, ActiveConsumerChangeEvent[]> = { a: [], b: [] };
    const mk = (name: "a" | "b") =>
      client.subscribe({
        topic,
        subscription: "fo",
        subscriptionType: "Failover",
        consumerName: name,
        subscriptionInitialPosition: "Earliest",
        onActiveConsumerChange: (e) => events[name]!.push(e),
      });
    const a = await mk("a");
    const b = await mk("b");
    await waitFor(() => a.isActive() !== undefined && b.isActive() !== undefined, 10_000, "active consumer events");
    const [active, standby] = a.isActive() ? [a, b] : [b, a];
    expect(standby.isActive()).toBe(false);
    await produce(topic, 5, { prefix: "first" });
    for (let i = 0; i < 5; i++) {
      const m = await active.receive(10_000);
      expect(m.data.toString()).toBe(`first-${i}`);
      await active.acknowledge(m);
    }
    await expectNothing(standby, 500);
    await active.close();
    await waitFor(() => standby.isActive() === true, 10_000, "standby to become active");
    await produce(topic, 3, { prefix: "second" });
    for (let i = 0; i < 3; i++) expect((await standby.receive(10_000)).data.toString()).toBe(`second-${i}`);
    expect(events.a!.length + events.b!.length).toBeGreaterThanOrEqual(3);
    await standby.close();
  });

  it("a failover consumer handed the topic mid-stream receives what the old one left unacknowledged, without new messages", async () => {
    // The broker may dispatch to the new active consumer before it sends the notice, and park a read for it at the
    // end of the topic; its rewind on the notice does not cancel that read. Closing the active consumer while
    // messages stream in hits that window; after the stream stops, no new message would ever release the read.
    for (let round = 0; round < 8; round++) {
      const topic = uniqueTopic("failover-parked");
      const producerClient = newClient();
      const first = await failoverConsumer(topic, "a");
      const second = await failoverConsumer(topic, "b");
      await waitFor(() => first.isActive() !== undefined && second.isActive() !== undefined, 10_000, "active events");
      const [active, standby] = first.isActive() ? [first, second] : [second, first];
      const producer = await producerClient.createProducer({ topic, batchingEnabled: false });
      let sent = 0;
      let streaming = true;
      const stream = (async () => {
        while (streaming) {
          await Promise.all(Array.from({ length: 20 }, () => producer.send({ value: Buffer.from(String(sent++)) })));
        }
      })();
      // The active consumer takes messages and acknowledges none; it leaves while they keep coming.
      for (let taken = 0; taken < 200; taken++) await active.receive(10_000);
      await active.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      streaming = false;
      await stream;
      await producer.close();
      await producerClient.close();
      const seen = new Set<string>();
      for (;;) {
        const m = await standby.receive(5_000).catch(() => undefined);
        if (!m) break;
        seen.add(m.data.toString());
        await standby.acknowledge(m);
        if (seen.size === sent) break;
      }
      const missing = Array.from({ length: sent }, (_, i) => String(i)).filter((v) => !seen.has(v));
      expect({ round, sent, missing: missing.length, first: missing.slice(0, 5) }).toEqual({
        round,
        sent,
        missing: 0,
        first: [],
      });
      await standby.close();
    }
  });

  it("a failover consumer that loses a partition hands out nothing it prefetched from it", async () => {
    const topic = uniqueTopic("failover-moved");
    await admin.createPartitionedTopic(topic, 2);
    const a = await failoverConsumer(topic, "a");
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => producer.send({ value: Buffer.from(`m-${i}`), partition: i % 2 })),
    );
    await producer.close();
    // Both partitions prefetched by "a", none handed out; then "b" joins and gets partition 1 (index % consumers).
    const first = await a.receive(10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = await failoverConsumer(topic, "b");
    await waitFor(() => a.isActive(`${topic}-partition-1`) === false, 10_000, "a to lose partition 1");
    const fromA = [first];
    for (;;) {
      const m = await a.receive(1_000).catch(() => undefined);
      if (!m) break;
      fromA.push(m);
    }
    // What "a" had handed out before the switch aside, it only hands out partition 0; "b" gets all of partition 1.
    const partition1 = fromA.filter((m) => m.topic.endsWith("-partition-1") && m !== first);
    expect(partition1.map((m) => m.data.toString())).toEqual([]);
    const fromB = new Set<string>();
    while (fromB.size < 20) fromB.add((await b.receive(10_000)).data.toString());
    expect([...fromB].every((v) => Number(v.slice(2)) % 2 === 1)).toBe(true);
    await a.close();
    await b.close();
  });

  it("shared consumers split the messages", async () => {
    const topic = uniqueTopic("shared");
    const opts = { topic, subscription: "sh", subscriptionType: "Shared" as const, receiverQueueSize: 5 };
    const c1 = await client.subscribe(opts);
    const c2 = await client.subscribe(opts);
    await produce(topic, 100);
    const seen = new Map<string, number>();
    const counts = [0, 0];
    let received = 0;
    const drain = async (c: typeof c1, idx: number) => {
      for (;;) {
        let m: Message;
        try {
          m = await c.receive(1500);
        } catch {
          return;
        }
        seen.set(m.data.toString(), (seen.get(m.data.toString()) ?? 0) + 1);
        counts[idx]!++;
        received++;
        await c.acknowledge(m);
      }
    };
    await Promise.all([drain(c1, 0), drain(c2, 1)]);
    expect(received).toBe(100);
    expect(seen.size).toBe(100);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
    await c1.close();
    await c2.close();
  });

  it("key_shared keeps each key on one consumer", async () => {
    const topic = uniqueTopic("keyshared");
    const opts = { topic, subscription: "ks", subscriptionType: "Key_Shared" as const };
    const c1 = await client.subscribe(opts);
    const c2 = await client.subscribe(opts);
    const producer = await client.createProducer({ topic, batchingType: "KEY_BASED", batchingMaxPublishDelayMs: 20 });
    const ids = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        producer.send({ value: Buffer.from(String(i)), key: `k${Math.floor(i / 10)}` }),
      ),
    );
    expect(ids.some((id) => id.batchIndex > 0)).toBe(true);
    const owner = new Map<string, number>();
    const valuesByKey = new Map<string, number[]>();
    let total = 0;
    await Promise.all(
      [c1, c2].map(async (c, idx) => {
        for (;;) {
          let m: Message;
          try {
            m = await c.receive(1500);
          } catch (error) {
            if ((error as { code?: string }).code !== "TIMEOUT") throw error;
            return;
          }
          total++;
          const prev = owner.get(m.key!);
          if (prev !== undefined) expect(prev).toBe(idx);
          owner.set(m.key!, idx);
          valuesByKey.set(m.key!, [...(valuesByKey.get(m.key!) ?? []), Number(m.data.toString())]);
          await c.acknowledge(m);
        }
      }),
    );
    expect(total).toBe(60);
    // Every key arrived, whole and in order, at the one consumer that owns it.
    expect([...valuesByKey.keys()].sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5"]);
    for (const [key, values] of valuesByKey) {
      const first = Number(key.slice(1)) * 10;
      expect(values).toEqual(Array.from({ length: 10 }, (_, i) => first + i));
    }
    await producer.close();
    await c1.close();
    await c2.close();
  });

  it("negative ack redelivers with an increasing redeliveryCount", async () => {
    const topic = uniqueTopic("nack");
    const c = await client.subscribe({
      topic,
      subscription: "n",
      subscriptionType: "Shared",
      negativeAckRedeliveryDelayMs: 200,
    });
    await produce(topic, 1);
    const first = await c.receive(10_000);
    expect(first.redeliveryCount).toBe(0);
    const t0 = Date.now();
    c.negativeAcknowledge(first);
    const again = await c.receive(10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(again.data.toString()).toBe("m-0");
    expect(again.redeliveryCount).toBe(1);
    c.negativeAcknowledge(again);
    const third = await c.receive(10_000);
    expect(third.redeliveryCount).toBe(2);
    await c.acknowledge(third);
    await expectNothing(c, 800);
    await c.close();
  });

  it("dead-letter topic receives a message after maxRedeliverCount redeliveries", async () => {
    const topic = uniqueTopic("dlq");
    const dlq = await client.subscribe({
      topic: `${topic}-work-DLQ`,
      subscription: "dlq-reader",
      subscriptionInitialPosition: "Earliest",
    });
    const c = await client.subscribe({
      topic,
      subscription: "work",
      subscriptionType: "Shared",
      negativeAckRedeliveryDelayMs: 100,
      deadLetterPolicy: { maxRedeliverCount: 2 },
    });
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await producer.send({ value: Buffer.from("poison"), key: "pk", properties: { origin: "test" } });
    await producer.send({ value: Buffer.from("fine") });
    const counts: number[] = [];
    for (;;) {
      const m = await c.receive(10_000);
      if (m.data.toString() === "fine") {
        await c.acknowledge(m);
        continue;
      }
      counts.push(m.redeliveryCount);
      c.negativeAcknowledge(m);
      if (m.redeliveryCount >= 2) break;
    }
    expect(counts).toEqual([0, 1, 2]);
    const dead = await dlq.receive(10_000);
    expect(dead.data.toString()).toBe("poison");
    expect(dead.key).toBe("pk");
    expect(dead.properties.origin).toBe("test");
    expect(dead.properties.REAL_TOPIC).toBe(topic);
    await expectNothing(c, 1000);
    await producer.close();
    await c.close();
    await dlq.close();
  });

  it("ack timeout redelivers unacknowledged messages", async () => {
    const topic = uniqueTopic("acktimeout");
    const c = await client.subscribe({ topic, subscription: "at", subscriptionType: "Shared", ackTimeoutMs: 1000 });
    await produce(topic, 1);
    const m = await c.receive(10_000);
    const again = await c.receive(10_000);
    expect(again.data.toString()).toBe(m.data.toString());
    expect(again.redeliveryCount).toBe(1);
    await c.acknowledge(again);
    await expectNothing(c, 2000);
    await c.close();
  });

  it("individual acks of every message in a batch acknowledge the entry", async () => {
    const topic = uniqueTopic("batchack");
    const opts = { topic, subscription: "b", subscriptionInitialPosition: "Earliest" as const };
    const c = await client.subscribe(opts);
    const ids = await produce(topic, 10, { batching: true });
    expect(ids[9]!.batchIndex).toBe(9);
    const got: Message[] = [];
    for (let i = 0; i < 10; i++) got.push(await c.receive(10_000));
    expect(got.map((m) => m.messageId.batchIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Acknowledge only part of the batch: after a restart the batch comes back.
    for (const m of got.slice(0, 5)) await c.acknowledge(m);
    await c.close();
    const c2 = await client.subscribe(opts);
    const redelivered: Message[] = [];
    for (;;) {
      try {
        redelivered.push(await c2.receive(1500));
      } catch {
        break;
      }
    }
    const texts = redelivered.map((m) => m.data.toString());
    expect(texts).toContain("m-9");
    for (const m of redelivered) await c2.acknowledge(m);
    await c2.close();
    const c3 = await client.subscribe(opts);
    await expectNothing(c3);
    await c3.close();
  });

  it("cumulative ack covers everything up to the message", async () => {
    const topic = uniqueTopic("cumulative");
    const opts = { topic, subscription: "c", subscriptionInitialPosition: "Earliest" as const };
    const c = await client.subscribe(opts);
    await produce(topic, 20);
    let last: Message | undefined;
    for (let i = 0; i < 15; i++) last = await c.receive(10_000);
    await c.acknowledgeCumulative(last!);
    await c.close();
    const c2 = await client.subscribe(opts);
    expect((await c2.receive(10_000)).data.toString()).toBe("m-15");
    await c2.close();
  });

  it("seek by message id and by time rewinds the subscription", async () => {
    const topic = uniqueTopic("seek");
    const c = await client.subscribe({ topic, subscription: "sk", subscriptionInitialPosition: "Earliest" });
    const ids = await produce(topic, 10);
    const msgs: Message[] = [];
    for (let i = 0; i < 10; i++) {
      const m = await c.receive(10_000);
      msgs.push(m);
      await c.acknowledge(m);
    }
    await c.seek(ids[3]!);
    expect((await c.receive(10_000)).data.toString()).toBe("m-3");
    await c.seek(msgs[0]!.publishTime);
    expect((await c.receive(10_000)).data.toString()).toBe("m-0");
    await c.seek(MessageId.latest);
    await expectNothing(c, 1000);
    await c.close();
  });

  it("reader reads from earliest, from a message id, inclusive, and seeks", async () => {
    const topic = uniqueTopic("reader");
    const ids = await produce(topic, 10, { batching: true });
    const r = await client.createReader({ topic, startMessageId: MessageId.earliest });
    for (let i = 0; i < 10; i++) expect((await r.readNext(10_000)).data.toString()).toBe(`m-${i}`);
    expect(await r.hasMessageAvailable()).toBe(false);
    await r.seek(ids[7]!);
    expect((await r.readNext(10_000)).data.toString()).toBe("m-7");
    await r.close();
    const r2 = await client.createReader({ topic, startMessageId: ids[4]! });
    expect((await r2.readNext(10_000)).data.toString()).toBe("m-5");
    await r2.close();
    const r3 = await client.createReader({ topic, startMessageId: ids[4]!, startMessageIdInclusive: true });
    expect((await r3.readNext(10_000)).data.toString()).toBe("m-4");
    await r3.close();
    const r4 = await client.createReader({ topic, startMessageId: MessageId.latest });
    expect(await r4.hasMessageAvailable()).toBe(false);
    await produce(topic, 1, { prefix: "late" });
    expect((await r4.readNext(10_000)).data.toString()).toBe("late-0");
    await r4.close();
    // Readers leave no durable subscription behind.
    expect(await admin.getSubscriptions(topic)).toEqual([]);
  });

  it("unsubscribe deletes the subscription; broker-side unload makes consumers reconnect", async () => {
    const topic = uniqueTopic("unsub");
    const c = await client.subscribe({ topic, subscription: "u", subscriptionInitialPosition: "Earliest" });
    await produce(topic, 2);
    expect((await c.receive(10_000)).data.toString()).toBe("m-0");
    await admin.unloadTopic(topic);
    await produce(topic, 1, { prefix: "after-unload" });
    // m-0 was never acknowledged, so the broker may deliver it again after the reconnect.
    const rest: string[] = [];
    while (!rest.includes("after-unload-0")) rest.push((await c.receive(15_000)).data.toString());
    expect(rest).toContain("m-1");
    expect(await admin.getSubscriptions(topic)).toEqual(["u"]);
    await c.unsubscribe();
    expect(await admin.getSubscriptions(topic)).toEqual([]);
    await expect(c.receive()).rejects.toMatchObject({ code: "CLOSED" });
  });
});
