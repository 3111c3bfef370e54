import { afterEach, describe, expect, it } from "vitest";
import type { StoredConnector } from "../connector-store.ts";
import { ClusterScheduler, clusterTopics } from "./cluster-scheduler.ts";
import { ClusterStore } from "./cluster-store.ts";
import { type Faults, InMemoryPulsar } from "./in-memory-pulsar.test-support.ts";

// Unit tests on an in-memory stand-in for Pulsar (lease 1 s, heartbeat 200 ms): the order in which two workers take
// the leadership and the store's writer cannot be chosen on a real broker. test/cluster-leader-writer.integration.test.ts
// fences a leader's writer on a real Pulsar.
const LEASE_MS = 1_000;
const HEARTBEAT_MS = 200;
const logger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  trace() {},
  fatal() {},
  child() {
    return logger;
  },
} as never;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const entry = (name: string): StoredConnector =>
  ({
    kind: "sink",
    stoppedInstances: [],
    config: { tenant: "t", namespace: "ns", name, parallelism: 1 },
  }) as unknown as StoredConnector;

interface ClusterWorker {
  id: string;
  scheduler: ClusterScheduler;
  store: ClusterStore;
}

const open: ClusterWorker[] = [];
/** Stores of workers that lost the leadership, with no scheduler of their own here. */
const deposedStores: ClusterStore[] = [];
afterEach(async () => {
  const workers = open.splice(0);
  await Promise.all(workers.map((worker) => worker.scheduler.close()));
  await Promise.all([...workers.map((worker) => worker.store), ...deposedStores.splice(0)].map((s) => s.release()));
});

/** A worker's scheduler and connector store, wired together as the worker does in cluster mode. */
async function startWorker(
  bus: InMemoryPulsar,
  cluster: string,
  id: string,
  options: { now?: () => number; faults?: Faults } = {},
): Promise<ClusterWorker> {
  const client = bus.client(options.faults) as never;
  const topics = clusterTopics("t/ns", cluster);
  const store = new ClusterStore({ client, topic: topics.connectors, writerId: id });
  const scheduler = new ClusterScheduler({
    client,
    topics,
    leaseMs: LEASE_MS,
    heartbeatIntervalMs: HEARTBEAT_MS,
    logger,
    demands: () => [{ instance: "sink:t/ns/s:0", cpu: 0, ram: 0 }],
    runningHere: () => [],
    writer: {
      take: async () => {
        await store.takeWriter();
        await store.caughtUp(LEASE_MS * 2);
      },
      open: () => store.openWriter(),
      lost: () => store.writerLost(),
      drop: () => store.dropWriter(),
    },
    ...(options.now ? { now: options.now } : {}),
  });
  const worker = { id, scheduler, store };
  open.push(worker);
  await store.init();
  await store.loadAll();
  void store.follow(
    async () => undefined,
    () => undefined,
  );
  await scheduler.start({ workerId: id, workerHostname: id, port: 1, url: `http://${id}` });
  return worker;
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}

/** Saves through `worker` until the store takes it; every refusal meanwhile must be a retryable NOT_READY (503). */
async function saveWhenAccepted(worker: ClusterWorker, name: string, timeoutMs: number): Promise<string[]> {
  const refusals: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await worker.store.save(entry(name));
      return refusals;
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      if (code !== "NOT_READY") throw error;
      refusals.push(message);
      if (Date.now() > deadline) throw new Error(`still refused after ${timeoutMs} ms: ${refusals.at(-1)}`);
      await sleep(100);
    }
  }
}

/** Resolves once `condition` holds, or after `timeoutMs` (a gate that must not hang a worker for ever). */
async function gate(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(5);
}

describe("the leader's connector store writer (in-memory stand-in for Pulsar)", () => {
  it("two workers take the leadership at once and the loser fences the winner's writer: the winner writes again", async () => {
    const bus = new InMemoryPulsar();
    const topics = clusterTopics("t/ns", "race");
    let armed = false;
    let skew = 0;
    // b leads first; a (the lower id) joins. When both elect at once, b takes the placement producer before a does
    // (a wins), and b takes the store's writer after a did (b, the loser, fences the winner's writer).
    const b = await startWorker(bus, "race", "b", {
      now: () => performance.now() + skew,
      faults: {
        beforeProducer: async (topic) => {
          if (armed && topic === topics.connectors) await gate(() => bus.epoch(topics.connectors) >= 2, 5_000);
        },
      },
    });
    await until(() => b.scheduler.isLeader(), 5_000);
    const a = await startWorker(bus, "race", "a", {
      faults: {
        beforeProducer: async (topic) => {
          if (armed && topic === topics.assignments) await gate(() => bus.epoch(topics.assignments) >= 2, 5_000);
        },
      },
    });
    await until(() => Object.keys(b.scheduler.assignments()).length > 0 && a.scheduler.workers().length === 2, 5_000);
    // Nothing new placed for a lease: once b says it no longer leads, a counts the leader gone.
    await sleep(LEASE_MS + 200);
    armed = true;
    // b pauses longer than its own lease (not the lease the others give it): it steps down, says so, and takes the
    // leadership back as the latest placement names it, while a elects itself as the lowest id.
    skew += 900;
    await until(() => bus.epoch(topics.connectors) >= 3, 5_000);
    expect(bus.epoch(topics.assignments), "both workers took the placement producer").toBe(3);

    await until(() => a.scheduler.isLeader() && !b.scheduler.isLeader(), 5_000);
    const refusals = await saveWhenAccepted(a, "after-race", 5_000);
    expect(refusals.every((reason) => /retry/.test(reason))).toBe(true);
    expect(a.scheduler.isLeader()).toBe(true);
    expect(b.scheduler.isLeader()).toBe(false);
    await expect(b.store.save(entry("from-the-loser"))).rejects.toMatchObject({ code: "NOT_READY" });
    const names = bus.log(topics.connectors).map((message) => message.key);
    expect(names.filter((key) => key?.endsWith("from-the-loser"))).toEqual([]);
    expect(names.filter((key) => key?.endsWith("after-race")).length).toBe(1);
  }, 30_000);

  it("a leader whose writer was fenced by a deposed leader's late take takes it back; the deposed one cannot write", async () => {
    const bus = new InMemoryPulsar();
    const topics = clusterTopics("t/ns", "late");
    const a = await startWorker(bus, "late", "a");
    await until(() => a.scheduler.isLeader(), 5_000);
    await saveWhenAccepted(a, "before", 5_000);
    // A worker that lost the leadership still takes the store's writer afterwards (its take was on the way).
    const deposed = new ClusterStore({ client: bus.client() as never, topic: topics.connectors, writerId: "z" });
    deposedStores.push(deposed);
    await deposed.init();
    await deposed.takeWriter();
    const refusals = await saveWhenAccepted(a, "after", 5_000);
    expect(refusals.every((reason) => /retry/.test(reason))).toBe(true);
    expect(a.scheduler.isLeader()).toBe(true);
    deposed.openWriter();
    await expect(deposed.save(entry("from-the-deposed"))).rejects.toMatchObject({ code: "NOT_READY" });
    expect(bus.log(topics.connectors).map((message) => message.key?.split("~").at(-1))).toEqual(["before", "after"]);
  }, 20_000);

  it("a leader that cannot take its lost writer back steps down, and another worker leads and writes", async () => {
    const bus = new InMemoryPulsar();
    const topics = clusterTopics("t/ns", "cannot");
    let refuseWriter = false;
    const a = await startWorker(bus, "cannot", "a", {
      faults: {
        beforeProducer: async (topic) => {
          if (refuseWriter && topic === topics.connectors) throw new Error("the broker refuses the producer");
        },
      },
    });
    await until(() => a.scheduler.isLeader(), 5_000);
    const b = await startWorker(bus, "cannot", "b");
    await until(() => b.scheduler.workers().length === 2 && b.scheduler.leader()?.workerId === "a", 5_000);
    refuseWriter = true;
    const intruder = new ClusterStore({ client: bus.client() as never, topic: topics.connectors, writerId: "z" });
    deposedStores.push(intruder);
    await intruder.init();
    await intruder.takeWriter();
    await until(() => b.scheduler.isLeader() && !a.scheduler.isLeader(), 10_000);
    await saveWhenAccepted(b, "on-b", 5_000);
    await expect(a.store.save(entry("on-a"))).rejects.toMatchObject({ code: "NOT_READY" });
  }, 30_000);
});
