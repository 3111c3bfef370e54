import { afterEach, describe, expect, it } from "vitest";
import type { StoredConnector } from "../connector-store.ts";
import { ClusterStore, type StoreChange } from "./cluster-store.ts";
import { InMemoryPulsar } from "./in-memory-pulsar.test-support.ts";

// Unit tests on an in-memory stand-in for Pulsar; the cluster integration test runs the store on a real one.
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const entry = (stoppedInstances: number[]): StoredConnector =>
  ({
    kind: "sink",
    stoppedInstances,
    config: { tenant: "t", namespace: "ns", name: "s", parallelism: 2 },
  }) as unknown as StoredConnector;

const open: ClusterStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.release()));
});

/** A worker's view of the store: what it applied last, as the manager would hold it. */
async function worker(bus: InMemoryPulsar, id: string) {
  const store = new ClusterStore({ client: bus.client() as never, topic: "connectors", writerId: id });
  open.push(store);
  await store.init();
  await store.loadAll();
  const view = { stopped: undefined as number[] | undefined, store };
  void store.follow(
    async (change: StoreChange) => {
      if ("entry" in change) view.stopped = change.entry.stoppedInstances;
    },
    () => undefined,
  );
  return view;
}

describe("ClusterStore (in-memory stand-in for Pulsar)", () => {
  it("every worker, the writers included, ends with the topic's last record", async () => {
    const bus = new InMemoryPulsar();
    const w1 = await worker(bus, "w1");
    const w2 = await worker(bus, "w2");
    // Two leaders one after the other (the second fences the first), each applying its own write at once.
    await w1.store.takeWriter();
    w1.store.openWriter();
    w1.stopped = [0];
    const first = w1.store.save(entry([0]));
    await w2.store.takeWriter();
    w2.store.openWriter();
    w2.stopped = [1];
    const second = w2.store.save(entry([1]));
    await Promise.allSettled([first, second]);
    await sleep(300);
    const last = bus.log("connectors").at(-1);
    const inTopic = (JSON.parse((last as { data: Buffer }).data.toString("utf8")) as StoredConnector).stoppedInstances;
    expect(w1.stopped).toEqual(inTopic);
    expect(w2.stopped).toEqual(inTopic);
  });

  it("writes only while it holds the writer; a newer holder fences the previous one", async () => {
    const bus = new InMemoryPulsar();
    const w1 = await worker(bus, "w1");
    const w2 = await worker(bus, "w2");
    await expect(w1.store.save(entry([0]))).rejects.toMatchObject({ code: "NOT_READY" });
    await w1.store.takeWriter();
    await expect(w1.store.save(entry([0])), "not before the leadership was confirmed").rejects.toMatchObject({
      code: "NOT_READY",
    });
    w1.store.openWriter();
    await w1.store.save(entry([0]));
    await w2.store.takeWriter();
    w2.store.openWriter();
    await expect(w1.store.save(entry([1]))).rejects.toMatchObject({ code: "NOT_READY" });
    expect(w1.store.writerLost()).toBe(true);
    await sleep(150);
    // Closed for good once its reconnect was refused: still a retryable refusal, never a store failure.
    await expect(w1.store.save(entry([1]))).rejects.toMatchObject({ code: "NOT_READY" });
    await w2.store.save(entry([1]));
    await w2.store.dropWriter();
    await expect(w2.store.remove("sink", "t", "ns", "s")).rejects.toMatchObject({ code: "NOT_READY" });
    expect(bus.log("connectors").length).toBe(2);
  });

  it("caughtUp resolves once every stored change was applied", async () => {
    const bus = new InMemoryPulsar();
    const w1 = await worker(bus, "w1");
    await w1.store.takeWriter();
    w1.store.openWriter();
    await w1.store.save(entry([0]));
    await w1.store.save(entry([1]));
    const w2 = new ClusterStore({ client: bus.client() as never, topic: "connectors", writerId: "w2" });
    open.push(w2);
    await w2.init();
    await w2.loadAll();
    await w1.store.save(entry([0, 1]));
    let applied: number[] | undefined;
    void w2.follow(
      async (change) => {
        await sleep(100);
        if ("entry" in change) applied = change.entry.stoppedInstances;
      },
      () => undefined,
    );
    await w2.caughtUp(5_000);
    expect(applied).toEqual([0, 1]);
  });
});
