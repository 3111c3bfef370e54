// Topic unloads (and dropped connections) at random moments around subscribe and producer creation, on a seeded
// schedule: whatever the moment, a consumer resubscribes and receives every message published after the last unload,
// and a producer reconnects and its sends succeed. Replay a schedule with UNLOAD_SEED=<seed>.
import { afterAll, describe, expect, it } from "vitest";
import type { Consumer, Producer, SubscriptionType } from "../src/index.ts";
import { newAdmin, newClient, uniqueTopic } from "./helpers.ts";
import { seededRandom } from "./seeded-random.ts";

const SEED = Number(process.env.UNLOAD_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Each test runs iterations until this much time has passed. */
const BUDGET_MS = 20_000;
/** How long a consumer or a send may take to recover after the last unload. */
const RECOVERY_MS = 10_000;

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Unloads fired without waiting, so they land while the client is in the middle of something. */
class Disruptions {
  readonly schedule: string[] = [];
  private readonly inFlight: Array<Promise<unknown>> = [];
  unloads = 0;
  private readonly topic: string;

  constructor(topic: string) {
    this.topic = topic;
  }

  unload(moment: string): void {
    this.schedule.push(`unload ${moment}`);
    this.inFlight.push(
      admin.unloadTopic(this.topic).then(
        () => {
          this.unloads += 1;
        },
        (error: unknown) => this.schedule.push(`(unload ${moment} refused: ${(error as Error).message})`),
      ),
    );
  }

  dropConnections(moment: string): void {
    this.schedule.push(`connections dropped ${moment}`);
    this.inFlight.push(client.dropConnectionsForTest());
  }

  settled(): Promise<unknown> {
    return Promise.allSettled(this.inFlight);
  }

  describe(iteration: number): string {
    return `seed ${SEED}, iteration ${iteration}: ${this.schedule.join("; ")}`;
  }
}

/** Receives and acknowledges in the background, remembering every value seen. */
function collect(consumer: Consumer): { seen: Set<string>; stop(): void } {
  const seen = new Set<string>();
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        const message = await consumer.receive();
        seen.add(message.data.toString());
        await consumer.acknowledge(message).catch(() => undefined);
      } catch {
        return;
      }
    }
  })();
  return {
    seen,
    stop: () => {
      stopped = true;
    },
  };
}

async function waitForAll(seen: Set<string>, expected: string[], ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (expected.some((value) => !seen.has(value))) {
    if (Date.now() > deadline) {
      const missing = expected.filter((value) => !seen.has(value));
      throw new Error(`${what()}: never received ${missing.join(", ")} within ${ms} ms`);
    }
    await sleep(20);
  }
}

describe("topic unloads at random moments", () => {
  console.log(`unload schedule seed ${SEED} (UNLOAD_SEED=${SEED} replays it)`);

  it("a consumer receives everything published after the last unload, whenever the unloads happen", async () => {
    const random = seededRandom(SEED);
    const types: SubscriptionType[] = ["Exclusive", "Failover", "Shared"];
    const started = Date.now();
    let iteration = 0;
    let unloads = 0;
    while (Date.now() - started < BUDGET_MS) {
      iteration += 1;
      const topic = uniqueTopic("unload-consumer");
      const producer = await client.createProducer({ topic, batchingEnabled: random() < 0.5, sendTimeoutMs: 0 });
      const disruptions = new Disruptions(topic);
      const what = () => disruptions.describe(iteration);
      const subscriptionType = types[Math.floor(random() * types.length)]!;
      disruptions.schedule.push(subscriptionType);
      // The subscription exists before, as when an instance comes back to its input. (An unload racing the creation
      // of a new subscription can leave the consumer on the closed topic object without telling it, a broker race.)
      await (await client.subscribe({ topic, subscription: "s", subscriptionType })).close();

      const subscribeDelay = Math.floor(random() * 31);
      const subscribing = client.subscribe({
        topic,
        subscription: "s",
        subscriptionType,
        subscriptionInitialPosition: "Earliest",
      });
      const early = sleep(subscribeDelay).then(() => disruptions.unload(`${subscribeDelay} ms after subscribe`));
      const consumer = await within(subscribing, RECOVERY_MS * 2, () => `subscribe (${what()})`);
      await early;
      const received = collect(consumer);

      // The first delivery, with an unload or a dropped connection racing it.
      const firstSend = producer.send({ value: Buffer.from("first") });
      const firstDelay = Math.floor(random() * 11);
      if (random() < 0.6) {
        await sleep(firstDelay);
        if (random() < 0.8) disruptions.unload(`${firstDelay} ms into the first receive`);
        else disruptions.dropConnections(`${firstDelay} ms into the first receive`);
      }
      await within(firstSend, RECOVERY_MS, () => `send of the first message (${what()})`);

      // Messages flowing, with more unloads between them.
      const flowing = 5 + Math.floor(random() * 20);
      for (let i = 0; i < flowing; i += 1) {
        if (random() < 0.15) disruptions.unload(`before flow message ${i}`);
        await within(
          producer.send({ value: Buffer.from(`flow-${i}`) }),
          RECOVERY_MS,
          () => `flow send ${i} (${what()})`,
        );
        if (random() < 0.3) await sleep(Math.floor(random() * 10));
      }

      await disruptions.settled();
      unloads += disruptions.unloads;
      const after = Array.from({ length: 5 }, (_, i) => `after-${i}`);
      for (const value of after) {
        await within(producer.send({ value: Buffer.from(value) }), RECOVERY_MS, () => `send of ${value} (${what()})`);
      }
      await waitForAll(received.seen, after, RECOVERY_MS, what);
      received.stop();
      await consumer.close();
      await producer.close();
    }
    console.log(`consumer: seed ${SEED}, ${iteration} iterations, ${unloads} unloads`);
    expect(iteration).toBeGreaterThan(5);
  });

  it("a producer's sends succeed after unloads around its creation and between its sends", async () => {
    const random = seededRandom(SEED ^ 0x5bd1e995);
    const started = Date.now();
    let iteration = 0;
    let unloads = 0;
    while (Date.now() - started < BUDGET_MS) {
      iteration += 1;
      const topic = uniqueTopic("unload-producer");
      // The topic exists before the unload is fired at it.
      const reader = await client.subscribe({ topic, subscription: "r", subscriptionInitialPosition: "Earliest" });
      const received = collect(reader);
      const disruptions = new Disruptions(topic);
      const what = () => disruptions.describe(iteration);
      const createDelay = Math.floor(random() * 31);
      const creating = client.createProducer({ topic, batchingEnabled: random() < 0.5, sendTimeoutMs: 0 });
      const early = sleep(createDelay).then(() => disruptions.unload(`${createDelay} ms after createProducer`));
      let producer: Producer;
      try {
        producer = await within(creating, RECOVERY_MS * 2, () => `createProducer (${what()})`);
      } finally {
        await early;
      }
      const sends: Array<Promise<unknown>> = [];
      const flowing = 5 + Math.floor(random() * 20);
      for (let i = 0; i < flowing; i += 1) {
        if (random() < 0.2) disruptions.unload(`before send ${i}`);
        sends.push(producer.send({ value: Buffer.from(`flow-${i}`) }));
        if (random() < 0.3) await sleep(Math.floor(random() * 10));
      }
      await within(Promise.all(sends), RECOVERY_MS, () => `sends during the unloads (${what()})`);
      await disruptions.settled();
      unloads += disruptions.unloads;
      const after = Array.from({ length: 5 }, (_, i) => `after-${i}`);
      await within(
        Promise.all(after.map((value) => producer.send({ value: Buffer.from(value) }))),
        RECOVERY_MS,
        () => `sends after the last unload (${what()})`,
      );
      await waitForAll(received.seen, after, RECOVERY_MS, what);
      received.stop();
      await producer.close();
      await reader.close();
    }
    console.log(`producer: seed ${SEED ^ 0x5bd1e995}, ${iteration} iterations, ${unloads} unloads`);
    expect(iteration).toBeGreaterThan(5);
  });
});
