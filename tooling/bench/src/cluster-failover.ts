// Cluster failover: three worker processes in cluster mode on one Pulsar, six data-generator -> SQLite pipelines at
// EFFECTIVELY_ONCE (twelve instances). Kills the worker owning the most instances (every third time the leader)
// with SIGKILL, KILLS times, and measures per pipeline of the victim the time from the kill until the pipeline wrote
// one second of records more than it had at the kill (an upper bound of the time to the first record after it).
// After each kill the victim restarts: the time from its start to every instance running again with a share on it is
// the rebalance time on join. Then the throughput with 3, 2 and 1 workers (the others leave gracefully), first at an
// offered load of BENCH_THROUGHPUT_RATE records/s per source, below what one worker manages, then with the sources
// unthrottled (saturation: rows/s is what the sinks manage); per window the lease lapses, the longest stall of a
// worker's event loop and the load average. A final check that every table holds each record exactly once.
// Writes results/cluster-failover.{json,md}.
// Usage: pnpm --filter @pulsar-connect/bench cluster-failover   (BENCH_KILLS=10, BENCH_RATE=100,
// BENCH_THROUGHPUT_RATE=300 records/s per source, BENCH_THROUGHPUT_SECONDS=30, BENCH_LEASE_MS=5000,
// BENCH_PORTS=7351,7352,7353)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { MessageId, PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const KILLS = Number(process.env.BENCH_KILLS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 30);
const LEASE_MS = Number(process.env.BENCH_LEASE_MS ?? 5000);
const THROUGHPUT_RATE = Number(process.env.BENCH_THROUGHPUT_RATE ?? 300);
// In-process by default (heartbeats go from a thread of their own, so instances stalling the main loop do not cost
// a worker its lease); the process runtime starts each moved instance in a new Node process, so failover is slower.
const RUNTIME = process.env.BENCH_RUNTIME ?? "in-process";
const HEARTBEAT_MS = Math.min(1000, Math.floor(LEASE_MS / 4));
/** How long a worker's heartbeat thread renews its lease after its main loop last ticked, in leases. */
const MAIN_SILENCE_LEASES = 2;
const PORTS = (process.env.BENCH_PORTS ?? "7351,7352,7353").split(",").map(Number);
const PIPELINES = 6;
const run = `bench${Date.now().toString(36)}`;
const namespace = `public/${run}`;
const workDir = mkdtempSync(join(tmpdir(), "pulsar-connect-cluster-bench-"));
const benchDir = join(import.meta.dirname, "..");

interface RunningWorker {
  port: number;
  url: string;
  workerId: string;
  child: ChildProcess;
}

const workers = new Map<number, RunningWorker>();
const spawned: ChildProcess[] = [];

function cleanup(): void {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

async function startWorker(port: number): Promise<RunningWorker> {
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "cluster-worker.ts")],
    {
      env: {
        ...process.env,
        PC_WORKER_LOG: join(workDir, `worker-${port}-${spawned.length}.log`),
        PC_WORKER_OPTIONS: JSON.stringify({
          port,
          dataDir: join(workDir, `data-${port}`),
          hostDirs: [benchDir],
          preferSource: true,
          pulsarServiceUrl: SERVICE_URL,
          pulsarAdminUrl: ADMIN_URL,
          cluster: run,
          clusterMode: { namespace, leaseMs: LEASE_MS, heartbeatIntervalMs: HEARTBEAT_MS },
          backoff: { initialMs: 200, maxMs: 1_000 },
          runtime: RUNTIME,
        }),
      },
      stdio: ["ignore", "pipe", "inherit"],
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
    child.once("exit", (code) => reject(new Error(`worker on ${port} exited with ${code} before listening`)));
  });
  const worker = { port, url, workerId: `127.0.0.1:${port}`, child };
  workers.set(port, worker);
  return worker;
}

async function stopWorker(worker: RunningWorker, signal: NodeJS.Signals): Promise<void> {
  const gone = new Promise<void>((done) => worker.child.once("exit", () => done()));
  workers.delete(worker.port);
  worker.child.kill(signal);
  await gone;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  for (const worker of workers.values()) {
    try {
      const init: RequestInit = { method, headers: { "content-type": "application/json" } };
      if (body !== undefined) init.body = JSON.stringify(body);
      const response = await fetch(`${worker.url}${path}`, init);
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    } catch {
      // Try the next worker.
    }
  }
  throw new Error("no worker answered");
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Retried until the deadline.
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

const sourceName = (i: number) => `gen-${i}`;
const sinkName = (i: number) => `rows-${i}`;
const topicOf = (i: number) => `persistent://${namespace}/data-${i}`;
const databases = Array.from({ length: PIPELINES }, (_, i) => {
  const db = new Database(join(workDir, `rows-${i}.db`));
  db.pragma("journal_mode = WAL");
  db.exec(
    "CREATE TABLE people (id INTEGER NOT NULL, firstName TEXT, lastName TEXT, email TEXT, age INTEGER, city TEXT, active INTEGER)",
  );
  return db;
});
const rows = (i: number) =>
  ((databases[i] as Database.Database).prepare("SELECT count(*) AS n FROM people").get() as { n: number }).n;
const totalRows = () => databases.reduce((sum, _, i) => sum + rows(i), 0);

/** instance (`source:gen-0:0`) -> the worker running it, for running instances. */
async function placement(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < PIPELINES; i += 1) {
    for (const [kind, name] of [
      ["source", sourceName(i)],
      ["sink", sinkName(i)],
    ] as const) {
      const answer = await api("GET", `/admin/v3/${kind}s/${namespace}/${name}/status`);
      const instances = (
        answer.json as { instances: { instanceId: number; status: { running: boolean; workerId: string } }[] }
      ).instances;
      for (const instance of instances) {
        if (instance.status.running) out.set(`${kind}:${name}:${instance.instanceId}`, instance.status.workerId);
      }
    }
  }
  return out;
}

/** Whether all twelve instances run on live workers; with `share`, that worker runs at least `min` of them. */
async function settled(share?: string, min = 1): Promise<boolean> {
  const live = new Set([...workers.values()].map((worker) => worker.workerId));
  const now = await placement();
  if (now.size !== PIPELINES * 2 || [...now.values()].some((id) => !live.has(id))) return false;
  return share === undefined || [...now.values()].filter((id) => id === share).length >= min;
}

async function leaderId(): Promise<string> {
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  try {
    const reader = await client.createReader({
      topic: `persistent://${namespace}/pulsar-connect-${run}-assignments`,
      startMessageId: MessageId.earliest,
    });
    let leader = "";
    while (await reader.hasMessageAvailable()) {
      leader = (JSON.parse((await reader.readNext(10_000)).data.toString("utf8")) as { leader: string }).leader;
    }
    await reader.close();
    return leader;
  } finally {
    await client.close();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const loadAverageAtStart = loadavg().map((value) => Number(value.toFixed(2)));
const admin = new PulsarAdmin({ serviceUrl: ADMIN_URL });
await admin.createNamespace(namespace, { ifNotExists: true });
await admin.setDeduplication(namespace, true);
await Promise.all(PORTS.map((port) => startWorker(port)));
for (let i = 0; i < PIPELINES; i += 1) {
  const submit = async (path: string, body: unknown) =>
    until(async () => (await api("POST", path, body)).status < 300, 60_000, `create ${path}`);
  await submit(`/admin/v3/sources/${namespace}/${sourceName(i)}`, {
    archive: "builtin://data-generator",
    topicName: topicOf(i),
    processingGuarantees: "EFFECTIVELY_ONCE",
    configs: { recordType: "people", ratePerSecond: RATE },
  });
  await submit(`/admin/v3/sinks/${namespace}/${sinkName(i)}`, {
    archive: "builtin://jdbc-sqlite",
    inputs: [topicOf(i)],
    sourceSubscriptionPosition: "Earliest",
    processingGuarantees: "EFFECTIVELY_ONCE",
    configs: { jdbcUrl: `jdbc:sqlite:${join(workDir, `rows-${i}.db`)}`, tableName: "people" },
  });
}
await until(() => settled(), 120_000, "twelve instances running");
await until(() => databases.every((_, i) => rows(i) > RATE), 60_000, "rows in every table");

interface Kill {
  victim: string;
  leader: boolean;
  instances: number;
  /** Per pipeline of the victim: ms from the kill to one second of records more than at the kill. */
  pipelinesMs: number[];
  /** ms from the kill until the status shows all twelve instances running on the others. */
  allRunningMs: number;
  /** ms from the victim's restart (listening) until it runs a share and all twelve run. */
  rejoinMs: number;
}
const kills: Kill[] = [];
for (let round = 0; round < KILLS; round += 1) {
  const before = await placement();
  const leader = await leaderId();
  const counts = new Map<string, number>();
  for (const id of before.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
  const busiest = [...counts].sort(([, a], [, b]) => b - a)[0]?.[0] as string;
  const target = round % 3 === 2 ? leader : busiest;
  const victim = [...workers.values()].find((worker) => worker.workerId === target) as RunningWorker;
  const touched = new Set<number>();
  for (const [key, id] of before) if (id === target) touched.add(Number(/-(\d+):/.exec(key)?.[1]));
  const atKill = databases.map((_, i) => rows(i));
  const start = Date.now();
  await stopWorker(victim, "SIGKILL");
  const recovered = new Map<number, number>();
  let allRunningMs = -1;
  while ((recovered.size < touched.size || allRunningMs < 0) && Date.now() - start < 120_000) {
    for (const i of touched) {
      if (!recovered.has(i) && rows(i) >= (atKill[i] as number) + RATE) recovered.set(i, Date.now() - start);
    }
    if (allRunningMs < 0 && (await settled().catch(() => false))) allRunningMs = Date.now() - start;
    await new Promise((done) => setTimeout(done, 25));
  }
  if (recovered.size < touched.size) throw new Error(`round ${round}: a pipeline did not recover within 120 s`);
  const rejoined = await startWorker(victim.port);
  const joinStart = Date.now();
  await until(() => settled(rejoined.workerId, 3), 120_000, "the rejoined worker runs a share");
  const kill: Kill = {
    victim: target,
    leader: target === leader,
    instances: counts.get(target) ?? 0,
    pipelinesMs: [...recovered.values()],
    allRunningMs,
    rejoinMs: Date.now() - joinStart,
  };
  kills.push(kill);
  console.log(JSON.stringify({ round, ...kill }));
  await new Promise((done) => setTimeout(done, 2_000));
}

// Throughput with 3, 2 and 1 workers (the others leave gracefully): at the offered load, then unthrottled.
async function offer(ratePerSecond: number): Promise<void> {
  for (let i = 0; i < PIPELINES; i += 1) {
    await until(
      async () =>
        (
          await api("PUT", `/admin/v3/sources/${namespace}/${sourceName(i)}`, {
            configs: { recordType: "people", ratePerSecond },
          })
        ).status < 300,
      60_000,
      "set the offered rate of a source",
    );
  }
}
const logLines = () =>
  readdirSync(workDir)
    .filter((file) => file.endsWith(".log"))
    .flatMap((file) => readFileSync(join(workDir, file), "utf8").split("\n"));
const lapses = () => logLines().filter((line) => line.includes("cluster lease lapsed")).length;
/** The longest stall of any worker's main event loop between `from` and `to` (wall clock, ms). */
const longestLoopStall = (from: number, to: number) =>
  logLines()
    .filter((line) => line.includes('"event loop delay"'))
    .map((line) => JSON.parse(line) as { time: number; maxMs: number })
    .filter((entry) => entry.time >= from && entry.time <= to)
    .reduce((longest, entry) => Math.max(longest, entry.maxMs), 0);
interface Window {
  phase: "offered" | "saturated";
  offeredPerSource: number;
  workers: number;
  rowsPerSecond: number;
  allRunningAtEnd: boolean;
  leaseLapses: number;
  longestLoopStallMs: number;
  loadAverage1m: number;
}
const throughput: Window[] = [];
for (const [phase, ratePerSecond] of [
  ["offered", THROUGHPUT_RATE],
  ["saturated", 0],
] as const) {
  while (workers.size < PORTS.length) {
    await startWorker(PORTS.find((port) => !workers.has(port)) as number);
  }
  await offer(ratePerSecond);
  for (const count of [3, 2, 1]) {
    while (workers.size > count) await stopWorker([...workers.values()].at(-1) as RunningWorker, "SIGTERM");
    await until(() => settled(), 120_000, `twelve instances on ${count} workers`).catch((error: unknown) =>
      console.log(`measuring anyway: ${(error as Error).message}`),
    );
    await new Promise((done) => setTimeout(done, 5_000));
    const first = totalRows();
    const lapsesBefore = lapses();
    const startedAt = Date.now();
    await new Promise((done) => setTimeout(done, THROUGHPUT_SECONDS * 1000));
    const rate = Math.round(((totalRows() - first) * 1000) / (Date.now() - startedAt));
    const entry: Window = {
      phase,
      offeredPerSource: ratePerSecond,
      workers: count,
      rowsPerSecond: rate,
      allRunningAtEnd: await settled().catch(() => false),
      leaseLapses: lapses() - lapsesBefore,
      longestLoopStallMs: longestLoopStall(startedAt, Date.now()),
      loadAverage1m: Number((loadavg()[0] as number).toFixed(2)),
    };
    throughput.push(entry);
    console.log(JSON.stringify(entry));
  }
}

// Exactly once: stop the sources, let the sinks drain, count.
for (let i = 0; i < PIPELINES; i += 1) await api("POST", `/admin/v3/sources/${namespace}/${sourceName(i)}/stop`);
const tables: { pipeline: number; rows: number; distinct: number; low: number; high: number }[] = [];
for (let i = 0; i < PIPELINES; i += 1) {
  await until(
    async () => {
      const stats = (await admin.getTopicStats(topicOf(i))) as {
        subscriptions?: Record<string, { msgBacklog?: number }>;
      };
      return Object.values(stats.subscriptions ?? {}).every((sub) => sub.msgBacklog === 0);
    },
    300_000,
    `pipeline ${i} drained`,
  );
  const summary = databases[i]
    ?.prepare("SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high FROM people")
    .get() as { n: number; ids: number; low: number; high: number };
  tables.push({ pipeline: i, rows: summary.n, distinct: summary.ids, low: summary.low, high: summary.high });
}
const exactlyOnce = tables.every(
  (table) => table.rows === table.distinct && table.low === 1 && table.high === table.rows,
);

const failoverMs = kills.flatMap((kill) => kill.pipelinesMs);
const result = {
  date: new Date().toISOString(),
  revision: revision(),
  node: process.version,
  cores: cpus().length,
  loadAverageAtStart,
  loadAverageAtEnd: loadavg().map((value) => Number(value.toFixed(2))),
  settings: {
    kills: KILLS,
    ratePerSource: RATE,
    leaseMs: LEASE_MS,
    heartbeatIntervalMs: HEARTBEAT_MS,
    pipelines: PIPELINES,
  },
  failover: {
    samples: failoverMs.length,
    medianMs: median(failoverMs),
    maxMs: Math.max(...failoverMs),
    allRunningMedianMs: median(kills.map((kill) => kill.allRunningMs)),
    allRunningMaxMs: Math.max(...kills.map((kill) => kill.allRunningMs)),
  },
  rebalanceOnJoin: {
    samples: kills.length,
    medianMs: median(kills.map((kill) => kill.rejoinMs)),
    maxMs: Math.max(...kills.map((kill) => kill.rejoinMs)),
  },
  throughput,
  exactlyOnce,
  tables,
  kills,
};
const out = join(import.meta.dirname, "../results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "cluster-failover.json"), `${JSON.stringify(result, null, 2)}\n`);
const md = `# Cluster failover: three worker processes, six data-generator -> SQLite pipelines at EFFECTIVELY_ONCE

${result.date} (${result.revision}), ${result.cores} cores shared with other users, Node ${result.node}. Lease ${LEASE_MS} ms,
heartbeat ${HEARTBEAT_MS} ms, instances in the ${RUNTIME} runtime, ${RATE} records/s per source during the kills. ${KILLS} SIGKILLs of the worker owning the most
instances (every third one the leader); after each the victim restarts and rejoins.

| figure | median | max |
| --- | ---: | ---: |
| failover: kill -> pipeline writing again (1 s of records past the kill), ms (${failoverMs.length} pipelines) | ${result.failover.medianMs} | ${result.failover.maxMs} |
| failover: kill -> status shows all 12 instances running on the others, ms | ${result.failover.allRunningMedianMs} | ${result.failover.allRunningMaxMs} |
| rebalance on join: rejoined worker listening -> it runs a share of >= 3, all 12 running, ms | ${result.rebalanceOnJoin.medianMs} | ${result.rebalanceOnJoin.maxMs} |

Throughput: rows written per second over ${THROUGHPUT_SECONDS}-s windows, with 3, 2 and 1 workers (the others left
gracefully). "offered": the six sources offer ${THROUGHPUT_RATE} records/s each (${THROUGHPUT_RATE * PIPELINES} in all), below what one
worker manages, so rows/s should equal the offered load; "saturated": the sources are unthrottled and rows/s is what
the sinks manage. Every worker process, Pulsar and the other users of this machine share the same ${cpus().length} cores, so more
workers cannot add CPU here: at saturation more workers mean more processes competing for the same cores. Longest
loop stall: the longest stall of any worker's main event loop in the window (the larger of what monitorEventLoopDelay
saw and how late a one-second tick came); heartbeats go from a thread of their own, so stalls shorter than ${MAIN_SILENCE_LEASES} leases do not cost a worker its lease.

| phase | workers | rows/s | all 12 running at the end | lease lapses | longest loop stall, ms | load average (1 min) |
| --- | ---: | ---: | :---: | ---: | ---: | ---: |
${throughput.map((entry) => `| ${entry.phase} | ${entry.workers} | ${entry.rowsPerSecond} | ${entry.allRunningAtEnd ? "yes" : "no"} | ${entry.leaseLapses} | ${entry.longestLoopStallMs} | ${entry.loadAverage1m} |`).join("\n")}

Load average (1, 5, 15 min) at the start of the run: ${result.loadAverageAtStart.join(", ")}; at the end: ${result.loadAverageAtEnd.join(", ")}.

Exactly once after all kills (rows = distinct ids = highest id, per table): ${exactlyOnce ? "yes" : "NO"}
(${tables.map((table) => `${table.rows}/${table.distinct}`).join(", ")}). Per-kill figures are in cluster-failover.json.
`;
writeFileSync(join(out, "cluster-failover.md"), md);
console.log(md);
for (const db of databases) db.close();
for (const worker of [...workers.values()]) await stopWorker(worker, "SIGTERM");
await admin.deleteNamespace(namespace, { force: true }).catch(() => undefined);
rmSync(workDir, { recursive: true, force: true });
process.exit(exactlyOnce ? 0 : 1);
