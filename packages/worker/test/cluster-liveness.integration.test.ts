// Cluster liveness with two worker processes on the shared Pulsar: a worker whose main event loop is kept busy in
// bursts of a whole lease (saturating in-process instances on shared cores stall the loop for seconds) keeps its
// lease and its instance, while a worker whose loop is wedged for four leases, a worker frozen with SIGSTOP and a
// worker killed with SIGKILL all stop being members and their instance moves to the other worker. An observer in this
// process reads the members topic (when each heartbeat arrives) and the assignments topic (the latest placement).
import { type Message, MessageId, PulsarAdmin, PulsarClient, type Reader } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterWorker, TestCluster } from "./cluster-workers.ts";
import { http, linesOf, until } from "./helpers.ts";

const LEASE_MS = 2_000;
const HEARTBEAT_MS = 500;
const PORTS = [7321, 7322];

const cluster = new TestCluster({
  runPrefix: "l",
  dirPrefix: "pulsar-connect-liveness-",
  leaseMs: LEASE_MS,
  heartbeatIntervalMs: HEARTBEAT_MS,
  dataDirPerStart: true,
  stdin: "pipe",
});
const { serviceUrl, adminUrl, run, namespace } = cluster;

/** Keeps the worker's main loop busy (`count` bursts of `ms`, `gapMs` apart); resolves after the last burst. */
function busy(worker: ClusterWorker, count: number, ms: number, gapMs: number): Promise<void> {
  return new Promise((done) => {
    let output = "";
    const listener = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("busy done")) {
        worker.child.stdout?.off("data", listener);
        done();
      }
    };
    worker.child.stdout?.on("data", listener);
    worker.child.stdin?.write(`busy ${count} ${ms} ${gapMs}\n`);
  });
}

/** Arrival times (this process's monotonic clock) of each worker's heartbeats on the members topic. */
const arrivals = new Map<string, number[]>();
/** The latest placement: instance key -> worker id. */
let placed: Record<string, string> = {};
let observerClient: PulsarClient | undefined;
const readers: Reader[] = [];
let observing = true;

async function observe(reader: Reader, handle: (message: Message) => void): Promise<void> {
  while (observing) {
    try {
      handle(await reader.readNext(1_000));
    } catch {
      // Timeouts while nothing arrives; the loop ends with the test.
    }
  }
}

function onHeartbeat(message: Message): void {
  if (message.key === undefined || message.data.length === 0) return;
  const list = arrivals.get(message.key) ?? [];
  list.push(performance.now());
  arrivals.set(message.key, list);
}

function onPlacement(message: Message): void {
  if (message.data.length > 0)
    placed = (JSON.parse(message.data.toString("utf8")) as { placement: typeof placed }).placement;
}

/** The longest time between two heartbeats of `workerId` that arrived within [from, to], and the edges. */
function longestSilence(workerId: string, from: number, to: number): number {
  const times = [from, ...(arrivals.get(workerId) ?? []).filter((time) => time > from && time < to), to];
  let longest = 0;
  for (let i = 1; i < times.length; i += 1)
    longest = Math.max(longest, (times[i] as number) - (times[i - 1] as number));
  return longest;
}

const sourceName = "gen";
const topic = `persistent://${namespace}/${run}-data`;

/** Where the latest placement puts the source's two instances. */
function owners(): (string | undefined)[] {
  return [0, 1].map((id) => placed[`source:${namespace}/${sourceName}:${id}`]);
}
const onBothWorkers = () => new Set(owners()).size === 2 && !owners().includes(undefined);
const allOnB = () => owners().every((owner) => owner === b.workerId);

const runningLines = (worker: ClusterWorker) =>
  linesOf(worker.log).filter((line) => line.includes('"instance running"')).length;
const lapseLines = (worker: ClusterWorker) =>
  linesOf(worker.log).filter((line) => line.includes("cluster lease lapsed")).length;

let a: ClusterWorker;
let b: ClusterWorker;

beforeAll(async () => {
  const admin = new PulsarAdmin({ serviceUrl: adminUrl });
  await admin.createNamespace(namespace, { ifNotExists: true });
  observerClient = new PulsarClient({ serviceUrl });
  for (const [topic, handle] of [
    ["members", onHeartbeat],
    ["assignments", onPlacement],
  ] as const) {
    const reader = await observerClient.createReader({
      topic: cluster.topic(topic),
      startMessageId: MessageId.earliest,
    });
    readers.push(reader);
    void observe(reader, handle);
  }
  a = await cluster.start(PORTS[0] as number);
  b = await cluster.start(PORTS[1] as number);
  // Writes wait for a leader, which the workers elect within a lease or two.
  await until(
    async () =>
      (
        await http(a.url, "POST", `/admin/v3/sources/${namespace}/${sourceName}`, {
          archive: "builtin://data-generator",
          topicName: topic,
          parallelism: 2,
          configs: { recordType: "people", ratePerSecond: 10 },
        })
      ).status < 300,
    30_000,
    "the source created",
  );
  await until(onBothWorkers, 60_000, "one instance on each worker");
  await until(() => runningLines(a) > 0, 30_000, "the instance running on a");
}, 90_000);

afterAll(async () => {
  observing = false;
  await Promise.all(readers.map((reader) => reader.close().catch(() => undefined)));
  await observerClient?.close().catch(() => undefined);
  await cluster.close();
});

describe("cluster liveness (two worker processes, real Pulsar)", () => {
  it("a worker whose event loop is busy in bursts of a whole lease keeps its lease and its instance", async () => {
    const startsBefore = runningLines(a);
    const lapsesBefore = lapseLines(a);
    const placedBefore = owners();
    const from = performance.now();
    let moved = false;
    const watch = setInterval(() => {
      if (owners().some((owner, id) => owner !== placedBefore[id])) moved = true;
    }, 50);
    await busy(a, 6, LEASE_MS, 20);
    // Heartbeats answered late arrive after the bursts: give them a heartbeat interval to show up.
    await new Promise((done) => setTimeout(done, HEARTBEAT_MS * 2));
    clearInterval(watch);
    const to = performance.now();
    expect(longestSilence(a.workerId, from, to)).toBeLessThan(LEASE_MS);
    expect(lapseLines(a)).toBe(lapsesBefore);
    expect(moved).toBe(false);
    // The instance never stopped on a.
    expect(runningLines(a)).toBe(startsBefore);
  }, 60_000);

  it("a worker whose event loop is wedged for four leases stops being a member; its instance moves", async () => {
    const from = performance.now();
    let movedAt = 0;
    const watch = setInterval(() => {
      if (movedAt === 0 && allOnB()) movedAt = performance.now();
    }, 50);
    await busy(a, 1, LEASE_MS * 4, 0);
    clearInterval(watch);
    // The others dropped it while it was wedged.
    expect(movedAt).toBeGreaterThan(0);
    expect(longestSilence(a.workerId, from, performance.now())).toBeGreaterThanOrEqual(LEASE_MS);
    // Awake again, it noticed that its lease lapsed, and gets its share back.
    await until(() => lapseLines(a) > 0, LEASE_MS * 2, "a says its lease lapsed");
    await until(onBothWorkers, 30_000, "a runs an instance again");
  }, 60_000);

  it("a worker frozen with SIGSTOP stops being a member; its instance moves", async () => {
    await until(() => runningLines(a) > 1, 30_000, "the instance running on a again");
    const stoppedAt = performance.now();
    a.child.kill("SIGSTOP");
    try {
      await until(allOnB, LEASE_MS * 4, "both instances on b while a is frozen");
      expect((arrivals.get(a.workerId) ?? []).filter((time) => time > stoppedAt + 100)).toEqual([]);
    } finally {
      a.child.kill("SIGCONT");
    }
    await until(onBothWorkers, 30_000, "a runs an instance again");
  }, 60_000);

  it("a worker killed with SIGKILL stops being a member; its instance moves", async () => {
    const killedAt = performance.now();
    await cluster.kill(a, "SIGKILL");
    await until(allOnB, LEASE_MS * 4, "both instances on b after the kill");
    expect(performance.now() - killedAt).toBeLessThan(LEASE_MS * 4);
  }, 60_000);
});
