import { afterEach, describe, expect, it, vi } from "vitest";
import { ClusterScheduler, clusterTopics } from "./cluster-scheduler.ts";
import { type Faults, InMemoryPulsar } from "./in-memory-pulsar.test-support.ts";

// Unit tests on an in-memory stand-in for Pulsar (lease 1 s, heartbeat 200 ms): they inject clock jumps and stalled
// readers that a real broker cannot be made to show on demand. test/cluster.integration.test.ts runs on real Pulsar.
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
const sinkInstance = (instanceId: number) => ({
  kind: "sink" as const,
  tenant: "t",
  namespace: "ns",
  name: "s",
  instanceId,
});

const open: ClusterScheduler[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((scheduler) => scheduler.close()));
});

function member(
  bus: InMemoryPulsar,
  cluster: string,
  instances: number,
  options: { now?: () => number; faults?: Faults } = {},
): ClusterScheduler {
  const scheduler = new ClusterScheduler({
    client: bus.client(options.faults) as never,
    topics: clusterTopics("t/ns", cluster),
    leaseMs: LEASE_MS,
    heartbeatIntervalMs: HEARTBEAT_MS,
    logger,
    demands: () => Array.from({ length: instances }, (_, id) => ({ instance: `sink:t/ns/s:${id}`, cpu: 0, ram: 0 })),
    runningHere: () => [],
    ...(options.now ? { now: options.now } : {}),
  });
  open.push(scheduler);
  return scheduler;
}

async function join(scheduler: ClusterScheduler, id: string): Promise<void> {
  await scheduler.start({ workerId: id, workerHostname: id, port: 1, url: `http://${id}` });
}

function placements(bus: InMemoryPulsar, cluster: string, from = 0): Record<string, string>[] {
  return bus
    .log(clusterTopics("t/ns", cluster).assignments)
    .slice(from)
    .map((message) => (JSON.parse(message.data.toString("utf8")) as { placement: Record<string, string> }).placement);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}

describe("ClusterScheduler (in-memory stand-in for Pulsar)", () => {
  it("a leader that notices its own lease lapsed before the others do takes the leadership back", async () => {
    const bus = new InMemoryPulsar();
    let skew = 0;
    const a = member(bus, "relead", 2, { now: () => performance.now() + skew });
    const b = member(bus, "relead", 2);
    await join(a, "a");
    await join(b, "b");
    await until(() => a.isLeader() && a.runsHere(sinkInstance(0)) !== a.runsHere(sinkInstance(1)), 10_000);
    // A pause of 0.9 s on the leader: longer than its own lease (lease - heartbeat), shorter than the lease the
    // others give it, so they never see it gone.
    skew += 900;
    await sleep(4_000);
    expect(a.isLeader() || b.isLeader()).toBe(true);
    const runsOnA = [0, 1].filter((id) => a.runsHere(sinkInstance(id))).length;
    const runsOnB = [0, 1].filter((id) => b.runsHere(sinkInstance(id))).length;
    expect(runsOnA + runsOnB).toBe(2);
  }, 20_000);

  it("a worker whose members reader stalls longer than the lease neither empties the placement nor moves instances", async () => {
    const bus = new InMemoryPulsar();
    let stalled = false;
    const a = member(bus, "stall", 4, { faults: { stallMembersReader: () => stalled } });
    const b = member(bus, "stall", 4);
    await join(a, "a");
    await join(b, "b");
    await until(() => a.isLeader() && [0, 1, 2, 3].some((id) => b.runsHere(sinkInstance(id))), 10_000);
    const before = placements(bus, "stall");
    const settled = before.at(-1) as Record<string, string>;
    const onB = Object.keys(settled).filter((key) => settled[key] === "b");
    expect(onB.length).toBe(2);
    stalled = true;
    await sleep(1_500);
    // While stalled, a may not start b's instances: b is alive, only a's view of it is old.
    const takenOver = [0, 1, 2, 3].filter((id) => settled[`sink:t/ns/s:${id}`] === "b" && a.runsHere(sinkInstance(id)));
    stalled = false;
    await sleep(500);
    const during = placements(bus, "stall", before.length);
    expect(during.filter((placement) => Object.keys(placement).length === 0)).toEqual([]);
    expect(during.filter((placement) => onB.some((key) => placement[key] !== "b"))).toEqual([]);
    expect(takenOver).toEqual([]);
  }, 20_000);

  it("measures leases on a monotonic clock: a wall-clock step does not fence a healthy worker", async () => {
    const realNow = Date.now.bind(Date);
    let wallClockStep = 0;
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + wallClockStep);
    const bus = new InMemoryPulsar();
    const a = member(bus, "wallclock", 1);
    await join(a, "a");
    await until(() => a.isLeader() && a.runsHere(sinkInstance(0)), 10_000);
    wallClockStep = 60_000;
    let stoppedAtSomePoint = false;
    const deadline = performance.now() + 1_000;
    while (performance.now() < deadline) {
      if (!a.runsHere(sinkInstance(0)) || !a.isLeader()) stoppedAtSomePoint = true;
      await sleep(10);
    }
    expect(stoppedAtSomePoint).toBe(false);
  }, 20_000);

  it("asks for an immediate stop once its own lease lapsed", async () => {
    const bus = new InMemoryPulsar();
    let skew = 0;
    const a = member(bus, "lapse", 1, { now: () => performance.now() + skew });
    await join(a, "a");
    await until(() => a.runsHere(sinkInstance(0)), 10_000);
    expect(a.mustStopAtOnce()).toBe(false);
    skew += 5_000;
    expect(a.runsHere(sinkInstance(0))).toBe(false);
    expect(a.mustStopAtOnce()).toBe(true);
  }, 20_000);

  it("removes its member entry when it closes", async () => {
    const bus = new InMemoryPulsar();
    const a = member(bus, "leave", 1);
    const b = member(bus, "leave", 1);
    await join(a, "a");
    await join(b, "b");
    await until(() => a.workers().length === 2, 10_000);
    await b.close();
    await until(() => a.workers().length === 1, 3_000);
    const last = bus.log(clusterTopics("t/ns", "leave").members).at(-1);
    expect(last?.key).toBe("b");
    expect(last?.data.length).toBe(0);
  }, 20_000);
});

describe("ClusterScheduler rebalance and drain (in-memory stand-in for Pulsar)", () => {
  it("a drain moves every instance off a worker and holds across a change of leader", async () => {
    const bus = new InMemoryPulsar();
    const [a, b, c] = [member(bus, "drain", 6), member(bus, "drain", 6), member(bus, "drain", 6)] as const;
    await Promise.all([join(a, "a"), join(b, "b"), join(c, "c")]);
    await until(() => a.isLeader() && Object.keys(a.assignments()).length === 3, 5_000);
    await expect(b.drain("c")).rejects.toThrow("does not lead");
    await a.drain("c");
    expect(Object.keys(a.assignments()).sort()).toEqual(["a", "b"]);
    expect(a.drainStatus("c")).toEqual({ status: "SUCCESS", lastError: "" });
    expect(a.drainStatus("b")).toEqual({ status: "ERROR", lastError: "Worker b not found in drain records" });
    await expect(a.drain("c")).rejects.toThrow("Worker c was not yet removed after a prior drain op; try later");
    await a.rebalance();
    expect(Object.keys(a.assignments()).sort(), "a rebalance keeps the drained worker out").toEqual(["a", "b"]);
    await a.close();
    await until(() => b.isLeader(), 5_000);
    await sleep(3 * HEARTBEAT_MS);
    expect(Object.keys(b.assignments()), "the new leader keeps the drain").toEqual(["b"]);
    await expect(b.rebalance()).rejects.toThrow("Too few workers (need at least 2)");
    // As upstream, too few workers (the drained one not counted) is answered before a prior drain is.
    await expect(b.drain("c")).rejects.toThrow("Too few workers (need at least 2)");
  });
});

describe("ClusterScheduler drain records (in-memory stand-in for Pulsar)", () => {
  it("a drained worker that freezes past its lease stays drained; one that restarts is placed again", async () => {
    const bus = new InMemoryPulsar();
    let skew = 0;
    const a = member(bus, "freeze", 6);
    const b = member(bus, "freeze", 6);
    const c = member(bus, "freeze", 6, { now: () => performance.now() + skew });
    await Promise.all([join(a, "a"), join(b, "b"), join(c, "c")]);
    await until(() => a.isLeader() && Object.keys(a.assignments()).length === 3, 5_000);
    await a.drain("c");
    expect(Object.keys(a.assignments()).sort()).toEqual(["a", "b"]);
    // A pause longer than its lease: c fences itself and heartbeats again with a new incarnation.
    skew += 5_000;
    await sleep(LEASE_MS + 4 * HEARTBEAT_MS);
    expect(Object.keys(a.assignments()).sort(), "the frozen worker stays drained").toEqual(["a", "b"]);
    expect(a.drainStatus("c")).toEqual({ status: "SUCCESS", lastError: "" });
    await c.close();
    const restarted = member(bus, "freeze", 6);
    await join(restarted, "c");
    await until(() => Object.keys(a.assignments()).length === 3, 5_000);
    expect(a.drainStatus("c").status).toBe("ERROR");
  }, 20_000);
});
