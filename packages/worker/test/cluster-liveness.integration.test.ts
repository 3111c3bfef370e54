// Cluster liveness with two worker processes on the shared Pulsar: a worker whose main event loop is kept busy in
// bursts of a whole lease (saturating in-process instances on shared cores stall the loop for seconds) keeps its
// lease and its instance, while a worker whose loop is wedged for four leases, a worker frozen with SIGSTOP and a
// worker killed with SIGKILL all stop being members and their instance moves to the other worker. An observer in this
// process reads the members topic (when each heartbeat arrives) and the assignments topic (the latest placement).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Message, MessageId, PulsarAdmin, PulsarClient, type Reader } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { http, linesOf, until } from "./helpers.ts";

const services = inject("services");
if (services.pulsar === undefined) throw new Error("test/services.json must list pulsar");
const { serviceUrl, webServiceUrl: adminUrl } = services.pulsar;
const run = `l${Date.now().toString(36)}`;
const namespace = `public/${run}`;
const workDir = mkdtempSync(join(tmpdir(), "pulsar-connect-liveness-"));
const LEASE_MS = 2_000;
const HEARTBEAT_MS = 500;
const PORTS = [7321, 7322];

interface RunningWorker {
  port: number;
  url: string;
  workerId: string;
  child: ChildProcess;
  log: string;
}

const spawned: ChildProcess[] = [];
let launches = 0;

async function startWorker(port: number): Promise<RunningWorker> {
  launches += 1;
  const log = join(workDir, `worker-${port}-${launches}.log`);
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/run-cluster-worker.ts")],
    {
      env: {
        ...process.env,
        PC_WORKER_LOG: log,
        PC_WORKER_OPTIONS: JSON.stringify({
          port,
          dataDir: join(workDir, `data-${port}-${launches}`),
          hostDirs: [join(import.meta.dirname, "..")],
          preferSource: true,
          pulsarServiceUrl: serviceUrl,
          pulsarAdminUrl: adminUrl,
          cluster: run,
          clusterMode: { namespace, leaseMs: LEASE_MS, heartbeatIntervalMs: HEARTBEAT_MS },
          backoff: { initialMs: 200, maxMs: 1_000 },
        }),
      },
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  spawned.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening (\S+)/.exec(output);
      if (found) resolve(found[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`the worker on port ${port} exited with ${code} before listening`)));
  });
  return { port, url, workerId: `127.0.0.1:${port}`, child, log };
}

/** Keeps the worker's main loop busy (`count` bursts of `ms`, `gapMs` apart); resolves after the last burst. */
function busy(worker: RunningWorker, count: number, ms: number, gapMs: number): Promise<void> {
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

const runningLines = (worker: RunningWorker) =>
  linesOf(worker.log).filter((line) => line.includes('"instance running"')).length;
const lapseLines = (worker: RunningWorker) =>
  linesOf(worker.log).filter((line) => line.includes("cluster lease lapsed")).length;

let a: RunningWorker;
let b: RunningWorker;

beforeAll(async () => {
  const admin = new PulsarAdmin({ serviceUrl: adminUrl });
  await admin.createNamespace(namespace, { ifNotExists: true });
  observerClient = new PulsarClient({ serviceUrl });
  for (const [topic, handle] of [
    ["members", onHeartbeat],
    ["assignments", onPlacement],
  ] as const) {
    const reader = await observerClient.createReader({
      topic: `persistent://${namespace}/pulsar-connect-${run}-${topic}`,
      startMessageId: MessageId.earliest,
    });
    readers.push(reader);
    void observe(reader, handle);
  }
  a = await startWorker(PORTS[0] as number);
  b = await startWorker(PORTS[1] as number);
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
  for (const child of spawned) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  }
  await Promise.all(readers.map((reader) => reader.close().catch(() => undefined)));
  await observerClient?.close().catch(() => undefined);
  await new PulsarAdmin({ serviceUrl: adminUrl }).deleteNamespace(namespace, { force: true }).catch(() => undefined);
  rmSync(workDir, { recursive: true, force: true });
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
    const gone = new Promise<void>((done) => a.child.once("exit", () => done()));
    a.child.kill("SIGKILL");
    await gone;
    await until(allOnB, LEASE_MS * 4, "both instances on b after the kill");
    expect(performance.now() - killedAt).toBeLessThan(LEASE_MS * 4);
  }, 60_000);
});
