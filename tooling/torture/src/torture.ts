// pnpm torture: a seeded random schedule of operations and faults against a real worker, its own Pulsar
// standalone (killed and restarted on the same data), the shared PostgreSQL and SQLite files, ending with an oracle
// per pipeline. The same seed prints and runs the same schedule. With --cluster N, N worker processes form a cluster
// and the schedule also kills, freezes and restarts its leader and followers, and has a worker join and leave.
//   pnpm torture --seed N --minutes M [--cluster 3] [--pipelines pg-eo,pg-al,sqlite-am,...] [--actions a,b,...] [--dry-run]
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { Broker } from "./internal/broker.ts";
import { WorkerCluster } from "./internal/cluster.ts";
import { judge, type Verdict } from "./internal/oracle.ts";
import { type Overlap, OverlapWatcher } from "./internal/overlap.ts";
import { Random } from "./internal/random.ts";
import { type RunResult, writeResults } from "./internal/results.ts";
import {
  type Action,
  describeStep,
  type Guarantee,
  generateSchedule,
  isFault,
  type PipelineSpec,
  parseActions,
  parsePipelines,
  type Step,
} from "./internal/schedule.ts";
import {
  blockPg,
  createPgTable,
  createSqliteTable,
  dropPgTable,
  killPgConnections,
  PG_DATABASE,
  type PgTarget,
  pgRowsPerId,
  preparePostgres,
  sqlitePath,
  sqliteRowsPerId,
  unblockPg,
} from "./internal/stores.ts";
import { type ExecutedStep, scanTopic, traceViolations } from "./internal/trace.ts";
import { AdminError, Worker } from "./internal/worker.ts";

const root = join(import.meta.dirname, "../../..");
const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    minutes: { type: "string", default: "5" },
    pipelines: { type: "string", default: "pg-eo,pg-al,pg-am,sqlite-eo,sqlite-al" },
    actions: { type: "string" },
    rate: { type: "string", default: "200" },
    "broker-port": { type: "string", default: process.env.PULSAR_BROKER_PORT ?? "6690" },
    "web-port": { type: "string", default: process.env.PULSAR_WEB_PORT ?? "8090" },
    "bookie-port": { type: "string", default: process.env.PULSAR_BOOKIE_PORT ?? "3191" },
    "worker-port": { type: "string", default: "6790" },
    cluster: { type: "string" },
    results: { type: "string", default: join(import.meta.dirname, "../results") },
    run: { type: "string", default: process.env.PC_SERVICES_RUN ?? join(root, ".run/torture") },
    "dry-run": { type: "boolean", default: false },
  },
  strict: true,
});

function integer(name: string, raw: string | undefined, min: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, not ${raw}`);
  return value;
}

// The commit the run was started on (the checkout may move while it runs).
const commit = spawnSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : integer("seed", values.seed, 0);
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not ${values.minutes}`);
const seconds = Math.round(minutes * 60);
const pipelines = parsePipelines(values.pipelines);
if (pipelines.length === 0) throw new Error("--pipelines names no pipeline");
const clusterSize = values.cluster === undefined ? 0 : integer("cluster", values.cluster, 2);
const actions = values.actions === undefined ? undefined : parseActions(values.actions, clusterSize > 0);
const rate = integer("rate", values.rate, 1);
const schedule = generateSchedule({
  seed,
  seconds,
  pipelines,
  ...(actions ? { actions } : {}),
  ...(clusterSize > 0 ? { cluster: clusterSize } : {}),
});
// The generator is done well before the end of the fault phase, so that the drain measures delivery, not rate.
const records = Math.max(100, Math.floor(rate * seconds * 0.6));

const begun = Date.now();
const say = (line: string) =>
  process.stdout.write(`[${((Date.now() - begun) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

say(
  `pnpm torture --seed ${seed} --minutes ${minutes}${clusterSize > 0 ? ` --cluster ${clusterSize}` : ""} --pipelines ${values.pipelines}${values.actions ? ` --actions ${values.actions}` : ""}`,
);
say(`${pipelines.length} pipelines, ${records} records each at ${rate}/s; schedule (${schedule.length} steps):`);
const scheduleLines = schedule.map(describeStep);
for (const line of scheduleLines) process.stdout.write(`    ${line}\n`);
process.stdout.write(`    then: start what the user stopped, drain, oracle\n`);
if (values["dry-run"]) process.exit(0);

const tag = `${seed.toString(36)}${Date.now().toString(36).slice(-4)}`;
const runDir = join(values.run, tag);
mkdirSync(runDir, { recursive: true });
const pgTarget: PgTarget = { host: "127.0.0.1", port: Number(process.env.PGPORT ?? 5432), user: "postgres" };
const broker = new Broker(join(runDir, "pulsar"), {
  broker: integer("broker-port", values["broker-port"], 1),
  web: integer("web-port", values["web-port"], 1),
  bookie: integer("bookie-port", values["bookie-port"], 1),
});
const workerPort = integer("worker-port", values["worker-port"], 1);
const worker = new Worker({
  port: workerPort,
  dataDir: join(runDir, "worker"),
  logFile: join(runDir, "worker.log"),
  pulsarUrl: broker.serviceUrl,
  pulsarAdminUrl: broker.webServiceUrl,
});
const clusterName = `torture-${tag}`;
/** The worker's default lease (clusterMode.leaseMs): a silent worker is gone after it. */
const LEASE_MS = 5_000;
const cluster =
  clusterSize > 0
    ? new WorkerCluster({
        name: clusterName,
        size: clusterSize,
        firstPort: workerPort,
        runDir,
        pulsarUrl: broker.serviceUrl,
        pulsarAdminUrl: broker.webServiceUrl,
        random: new Random(seed ^ 0x5eed),
      })
    : undefined;
let overlapWatcher: OverlapWatcher | undefined;

/** What the user asked for, per pipeline; the oracle judges against it. */
interface Pipeline {
  spec: PipelineSpec;
  topic: string;
  table: string;
  sink: string;
  source: string;
  guarantees: Guarantee[];
  guarantee: Guarantee;
  sinkUp: boolean;
  sourceUp: boolean;
  parallelism: number;
  batchSize: number;
  poison: number;
}

const state: Pipeline[] = pipelines.map((spec) => {
  const name = `${tag}-${spec.id}`;
  return {
    spec,
    topic: `persistent://public/default/torture-${name}`,
    table: `t_${name.replace(/[^a-z0-9]/gi, "_")}`,
    sink: `${name}-sink`,
    source: `${name}-source`,
    guarantees: [spec.guarantee],
    guarantee: spec.guarantee,
    sinkUp: true,
    sourceUp: true,
    parallelism: 1,
    batchSize: 200,
    poison: 0,
  };
});
const byId = new Map(state.map((p) => [p.spec.id, p]));

interface AdminCall {
  method: "POST" | "PUT" | "DELETE";
  path: string;
  body?: Record<string, unknown>;
}

function path(kind: "sink" | "source", name: string, verb?: string): string {
  return `/admin/v3/${kind}s/public/default/${name}${verb ? `/${verb}` : ""}`;
}

/** What `pulsar-connect sinks create|update` sends for this pipeline. */
function sinkCall(p: Pipeline, verb: "create" | "update", position: "Earliest" | "Latest"): AdminCall {
  const jdbcUrl =
    p.spec.store === "postgres"
      ? `jdbc:postgresql://${pgTarget.host}:${pgTarget.port}/${PG_DATABASE}`
      : `jdbc:sqlite:${sqlitePath(runDir, p.table)}`;
  const configs: Record<string, unknown> = {
    jdbcUrl,
    tableName: p.table,
    insertMode: "INSERT",
    batchSize: p.batchSize,
  };
  if (p.spec.store === "postgres") configs.userName = pgTarget.user;
  const body: Record<string, unknown> = {
    tenant: "public",
    namespace: "default",
    name: p.sink,
    processingGuarantees: p.guarantee,
    parallelism: p.parallelism,
    configs,
  };
  if (verb === "create") {
    body.archive = `builtin://${p.spec.store === "postgres" ? "jdbc-postgres" : "jdbc-sqlite"}`;
    body.inputs = [p.topic];
    body.sourceSubscriptionPosition = position;
    // A user who recreates a sink keeps its subscription (upstream's cleanupSubscription): deleting it would let the
    // broker trim the backlog the new sink is expected to write.
    body.cleanupSubscription = false;
    body.maxMessageRetries = 2;
    body.deadLetterTopic = `${p.topic}-dlq`;
  }
  return { method: verb === "create" ? "POST" : "PUT", path: path("sink", p.sink), body };
}

/** What `pulsar-connect sources create|update` sends for this pipeline. */
function sourceCall(p: Pipeline, verb: "create" | "update"): AdminCall {
  const body: Record<string, unknown> = {
    tenant: "public",
    namespace: "default",
    name: p.source,
    processingGuarantees: p.guarantee,
    configs: { recordType: "people", ratePerSecond: rate, maxRecords: records, partitions: 2 },
  };
  if (verb === "create") {
    body.archive = "builtin://data-generator";
    body.topicName = p.topic;
  }
  return { method: verb === "create" ? "POST" : "PUT", path: path("source", p.source), body };
}

const notes: string[] = [];
const violations: string[] = [];
/**
 * Cluster mode: steps the harness could not carry out (no leader to hit, a worker that did not start, an admin call
 * unanswered while workers come and go). They are reported, but they are not broken guarantees.
 */
const stepFailures: string[] = [];
/** The steps as they ran, for tracing a violation to the faults around it. */
const executed: ExecutedStep[] = [];
let origin = 0;

/**
 * An operator retries while the worker does not answer; a refusal, or no answer for a minute, is a finding. In a
 * cluster each attempt goes to the next worker that is up (as a user with several worker URLs does), and a call that
 * stays unanswered while workers come and go is a harness step failure. A refusal that only says an earlier attempt
 * of the same call took effect (a create retried after no answer finds the connector, a delete finds it gone, an
 * update finds no change) is the retry's answer, not a finding. Resolves true once the call took effect.
 */
async function admin(call: AdminCall): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  let unanswered = false;
  for (;;) {
    const target = cluster ? cluster.pick() : worker;
    try {
      await target.admin(call.method, call.path, call.body);
      return true;
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (cluster && unanswered && error instanceof AdminError && !error.retryable) {
        const repeated =
          (call.method === "POST" && /HTTP 400 .*already exists/.test(text)) ||
          (call.method === "DELETE" && /HTTP 404/.test(text)) ||
          (call.method === "PUT" && /HTTP 400 .*Update contains no change/.test(text));
        if (repeated) {
          notes.push(`${call.method} ${call.path}: a retry found the earlier attempt done (${text.slice(0, 120)})`);
          return true;
        }
      }
      if (!(error instanceof AdminError) || !error.retryable || Date.now() > deadline) {
        const message = `admin call refused: ${text}`;
        if (cluster && error instanceof AdminError && error.retryable) stepFailures.push(message);
        else violations.push(message);
        say(`  ! ${message}`);
        return false;
      }
      unanswered = true;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

async function produce(topic: string, build: (index: number) => Buffer, count: number): Promise<void> {
  const client = new PulsarClient({ serviceUrl: broker.serviceUrl });
  try {
    const producer = await client.createProducer({ topic });
    for (let i = 0; i < count; i++) await producer.send({ value: build(i) });
    await producer.close();
  } finally {
    await client.close();
  }
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  say(`  ! ${what}: not within ${timeoutMs / 1000} s`);
  return false;
}

/** A worker fault in cluster mode: the target role is resolved now (who leads is not in the seed). */
async function executeOnCluster(step: Step, workers: WorkerCluster): Promise<void> {
  const seconds = Number(step.value ?? 1);
  switch (step.action) {
    case "worker-join":
      await workers.extra.start();
      say(`  ${workers.extra.workerId} joined`);
      return;
    case "worker-leave": {
      const { graceful } = await workers.extra.stop();
      if (!graceful) notes.push(`t+${step.at}s: ${workers.extra.workerId} did not leave within 90 s of SIGTERM`);
      return;
    }
    default:
      break;
  }
  // Lateness can bring a worker fault before the SIGCONT the schedule placed ahead of it: keep its order.
  await workers.thawed();
  const target = await workers.target(step.target ?? "follower");
  if (!target) throw new Error(`no ${step.target ?? "follower"} to hit among the up workers`);
  say(`  ${step.target} is ${target.workerId}`);
  switch (step.action) {
    case "worker-kill":
      await target.kill();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      await target.start();
      return;
    case "worker-restart": {
      const { graceful } = await target.stop();
      if (!graceful) notes.push(`t+${step.at}s: ${target.workerId} did not exit within 90 s of SIGTERM`);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      await target.start();
      return;
    }
    case "worker-freeze":
      workers.freeze(target, seconds, () => say(`  SIGCONT ${target.workerId} after ${seconds} s`));
      return;
    default:
      throw new Error(`no cluster executor for ${step.action}`);
  }
}

async function execute(step: Step): Promise<void> {
  const p = step.pipeline ? byId.get(step.pipeline) : undefined;
  const onCluster = ["worker-kill", "worker-restart", "worker-freeze", "worker-join", "worker-leave"];
  if (cluster && onCluster.includes(step.action)) return executeOnCluster(step, cluster);
  switch (step.action) {
    case "worker-kill":
      await worker.kill();
      await new Promise((resolve) => setTimeout(resolve, Number(step.value ?? 1) * 1000));
      await worker.start();
      return;
    case "worker-restart": {
      const { graceful } = await worker.stop();
      if (!graceful) notes.push(`t+${step.at}s: the worker did not exit within 90 s of SIGTERM and was killed`);
      await worker.start();
      return;
    }
    case "broker-kill":
      broker.kill();
      await broker.waitGone();
      await new Promise((resolve) => setTimeout(resolve, Number(step.value ?? 1) * 1000));
      say(`  broker up again in ${((await broker.start()) / 1000).toFixed(1)} s`);
      return;
    case "broker-restart":
      await broker.stop();
      say(`  broker up again in ${((await broker.start()) / 1000).toFixed(1)} s`);
      return;
    case "topic-unload": {
      const path = (p as Pipeline).topic.replace("persistent://", "persistent/");
      const response = await fetch(`${broker.webServiceUrl}/admin/v2/${path}/unload`, { method: "PUT" });
      if (!response.ok) notes.push(`t+${step.at}s: unload answered ${response.status}`);
      return;
    }
    case "db-connections-killed":
      say(`  ${await killPgConnections(pgTarget)} sessions ended`);
      return;
    case "db-unavailable":
      await blockPg(pgTarget);
      try {
        await new Promise((resolve) => setTimeout(resolve, Number(step.value ?? 30) * 1000));
      } finally {
        await unblockPg(pgTarget);
      }
      return;
    case "poison-record": {
      const pipeline = p as Pipeline;
      // One record that is not JSON at all, one that is JSON the table refuses (NOT NULL columns missing).
      const first = pipeline.poison;
      pipeline.poison += 2;
      await produce(
        pipeline.topic,
        (i) =>
          i === 0
            ? Buffer.from([0x00, 0xff, 0x13, 0x37])
            : Buffer.from(JSON.stringify({ id: -(first + i + 1), firstName: null })),
        2,
      );
      return;
    }
    default:
      await operate(step, p as Pipeline);
      return;
  }
}

async function operate(step: Step, p: Pipeline): Promise<unknown> {
  switch (step.action as Exclude<Action, "worker-kill">) {
    case "sink-stop":
      p.sinkUp = false;
      return admin({ method: "POST", path: path("sink", p.sink, "stop") });
    case "sink-start":
      p.sinkUp = true;
      return admin({ method: "POST", path: path("sink", p.sink, "start") });
    case "sink-restart":
      return admin({ method: "POST", path: path("sink", p.sink, "restart") });
    case "source-stop":
      p.sourceUp = false;
      return admin({ method: "POST", path: path("source", p.source, "stop") });
    case "source-start":
      p.sourceUp = true;
      return admin({ method: "POST", path: path("source", p.source, "start") });
    case "source-restart":
      return admin({ method: "POST", path: path("source", p.source, "restart") });
    case "sink-parallelism": {
      const before = p.parallelism;
      p.parallelism = Number(step.value);
      // An update that failed may or may not have taken effect: expect no more instances than either count.
      if (!(await admin(sinkCall(p, "update", "Earliest")))) p.parallelism = Math.min(before, p.parallelism);
      return;
    }
    case "sink-batch-size":
      p.batchSize = Number(step.value);
      return admin(sinkCall(p, "update", "Earliest"));
    case "guarantee":
      p.guarantee = step.value as Guarantee;
      if (!p.guarantees.includes(p.guarantee)) p.guarantees.push(p.guarantee);
      await admin(sinkCall(p, "update", "Earliest"));
      return admin(sourceCall(p, "update"));
    case "sink-recreate":
      // A delete that did not take effect leaves the sink as it was: creating it again would only be refused.
      if (!(await admin({ method: "DELETE", path: path("sink", p.sink) }))) return;
      // The kept subscription resumes where the deleted sink left off (the position only counts for a new one).
      return admin(sinkCall(p, "create", p.guarantee === "ATMOST_ONCE" ? "Latest" : "Earliest"));
    case "source-recreate":
      if (!(await admin({ method: "DELETE", path: path("source", p.source) }))) return;
      return admin(sourceCall(p, "create"));
    default:
      throw new Error(`no executor for ${step.action}`);
  }
}

async function rowsPerId(p: Pipeline): Promise<Map<number, number>> {
  return p.spec.store === "postgres"
    ? pgRowsPerId(pgTarget, p.table)
    : sqliteRowsPerId(sqlitePath(runDir, p.table), p.table);
}

function distinctIds(rows: Map<number, number>): number {
  let n = 0;
  for (const id of rows.keys()) if (id >= 1 && id <= records) n++;
  return n;
}

/** Connectors the user left running that do not say running (a finished generator has done its work). */
async function notRunning(p: Pipeline): Promise<string[]> {
  const down: string[] = [];
  const statusOf = (kind: "source" | "sink", name: string) =>
    cluster ? cluster.status(kind, name) : worker.status(kind, name);
  if (p.sinkUp) {
    const status = await statusOf("sink", p.sink);
    const bad = status === undefined || status.length < p.parallelism || status.some((s) => !s.running);
    if (bad) down.push(`sink ${p.sink}: ${JSON.stringify(status?.map((s) => s.state ?? s.error) ?? "unknown")}`);
  }
  if (p.sourceUp) {
    const status = await statusOf("source", p.source);
    const bad =
      status === undefined || status.length === 0 || status.some((s) => !s.running && !s.state?.startsWith("finished"));
    if (bad) down.push(`source ${p.source}: ${JSON.stringify(status?.map((s) => s.state ?? s.error) ?? "unknown")}`);
  }
  return down;
}

async function main(): Promise<number> {
  say(`run folder ${runDir}`);
  await preparePostgres(pgTarget);
  say(`own Pulsar on ${broker.serviceUrl} (journal synced, deduplication on)`);
  say(`  up in ${((await broker.create()) / 1000).toFixed(1)} s`);
  if (cluster) {
    await cluster.start();
    say(
      `cluster ${clusterName}: ${cluster.workers.map((w) => w.adminUrl).join(", ")} (a 4th joins on ${cluster.extra.adminUrl})`,
    );
    const members = `persistent://public/default/pulsar-connect-${clusterName}-members`;
    overlapWatcher = new OverlapWatcher(broker.serviceUrl, members, LEASE_MS, (overlap: Overlap) => {
      const message = `instance ${overlap.instance} held by ${overlap.workers.join(" and ")} at once for more than ${LEASE_MS / 1000} s (since t+${Math.round((overlap.since - origin) / 1000)}s)`;
      violations.push(message);
      say(`  ! ${message}`);
    });
    overlapWatcher.start();
  } else {
    await worker.start();
    say(`worker on ${worker.adminUrl}`);
  }
  for (const p of state) {
    if (p.spec.store === "postgres") await createPgTable(pgTarget, p.table);
    else createSqliteTable(sqlitePath(runDir, p.table), p.table);
    await admin(sinkCall(p, "create", "Earliest"));
    await admin(sourceCall(p, "create"));
  }
  say(`${state.length} pipelines created`);

  origin = Date.now();
  for (const step of schedule) {
    const wait = origin + step.at * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    say(`${describeStep(step)}${Date.now() - origin > step.at * 1000 + 2000 ? "  (late)" : ""}`);
    const start = Date.now();
    try {
      await execute(step);
    } catch (error) {
      const message = `step ${describeStep(step).trim()} failed: ${error instanceof Error ? error.message : String(error)}`;
      if (cluster) stepFailures.push(message);
      else violations.push(message);
      say(`  ! ${message}`);
    }
    executed.push({ line: describeStep(step), start, end: Date.now() });
  }
  const remaining = origin + seconds * 1000 - Date.now();
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));

  if (cluster) {
    await cluster.restoreAll().catch((error: Error) => stepFailures.push(`restoring the workers: ${error.message}`));
    say(
      `workers up: ${cluster
        .up()
        .map((w) => w.workerId)
        .join(", ")}`,
    );
  }
  say("the user starts what is stopped");
  for (const p of state) {
    if (!p.sinkUp) await operate({ at: seconds, action: "sink-start" }, p);
    if (!p.sourceUp) await operate({ at: seconds, action: "source-start" }, p);
  }

  // A connector in its restart backoff gets time to come back before the drain is judged.
  const down = new Map<string, string[]>();
  const allRunning = async () => {
    for (const p of state) down.set(p.spec.id, await notRunning(p));
    return [...down.values()].every((list) => list.length === 0);
  };
  await waitFor("every connector the user left running is running", allRunning, 90_000);

  say("drain: waiting for every record id to arrive (or for progress to stop for 90 s)");
  const last = new Map<string, { count: number; at: number }>();
  const drainDeadline = Date.now() + Math.max(180_000, (records / rate) * 1000);
  for (;;) {
    let done = true;
    let stalled = true;
    for (const p of state) {
      const count = distinctIds(await rowsPerId(p).catch(() => new Map<number, number>()));
      const previous = last.get(p.spec.id);
      if (!previous || previous.count !== count) last.set(p.spec.id, { count, at: Date.now() });
      if (count < records) done = false;
      if (count < records && Date.now() - (last.get(p.spec.id)?.at ?? 0) < 90_000) stalled = false;
    }
    if (done || stalled || Date.now() > drainDeadline) break;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  // Let in-flight duplicates land before counting.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  await waitFor("every connector the user left running is still running", allRunning, 30_000);

  const verdicts: Verdict[] = [];
  const traces: string[] = [];
  for (const p of state) {
    const rows = await rowsPerId(p);
    const verdict = judge({
      id: p.spec.id,
      guarantees: p.guarantees,
      expected: records,
      rows,
      notRunning: down.get(p.spec.id) ?? [],
    });
    verdicts.push(verdict);
    violations.push(...verdict.violations);
    const lossForbidden = !p.guarantees.includes("ATMOST_ONCE") && verdict.lost > 0;
    const duplicationForbidden = !p.guarantees.includes("ATLEAST_ONCE") && verdict.duplicated > 0;
    if (lossForbidden || duplicationForbidden) {
      try {
        const topic = await scanTopic(broker.serviceUrl, p.topic);
        const steps = executed;
        const input = { expected: records, rows, topic, steps, origin, lossForbidden, duplicationForbidden };
        traces.push(`${p.spec.id} (${p.topic}):`, ...traceViolations(input));
      } catch (error) {
        traces.push(`${p.spec.id}: could not read ${p.topic}: ${error instanceof Error ? error.message : error}`);
      }
    }
  }

  process.stdout.write(
    "\n  pipeline     guarantees                           expected  delivered     lost  duplicated\n",
  );
  for (const [i, v] of verdicts.entries()) {
    const held = (state[i] as Pipeline).guarantees.join("+");
    process.stdout.write(
      `  ${v.id.padEnd(12)} ${held.padEnd(36)} ${String(v.expected).padStart(8)} ${String(v.delivered).padStart(10)} ${String(v.lost).padStart(8)} ${String(v.duplicated).padStart(11)}\n`,
    );
  }
  for (const note of notes) say(`note: ${note}`);
  if (overlapWatcher) {
    await overlapWatcher.close();
    say(
      `instances held by two workers at once beyond the lease: ${overlapWatcher.overlaps.length} (${overlapWatcher.heartbeats} heartbeats read)`,
    );
  }
  for (const failure of stepFailures) say(`harness step failure: ${failure}`);
  if (traces.length > 0) {
    process.stdout.write(`\n  where the violations happened (trace.txt in the run folder):\n${traces.join("\n")}\n`);
    writeFileSync(join(runDir, "trace.txt"), `${traces.join("\n")}\n`);
  }
  const result: RunResult = {
    seed,
    minutes,
    date: new Date().toISOString(),
    commit,
    pipelines: pipelines.map((p) => p.id),
    ...(cluster ? { cluster: clusterSize, stepFailures } : {}),
    actions: values.actions ?? "all",
    steps: schedule.length,
    faults: schedule.filter((step) => isFault(step.action)).length,
    records: records * pipelines.length,
    lost: verdicts.reduce((sum, v) => sum + v.lost, 0),
    duplicated: verdicts.reduce((sum, v) => sum + v.duplicated, 0),
    violations,
    verdicts,
    schedule: scheduleLines,
  };
  const written = writeResults(values.results, result);
  say(`results: ${written.markdown}`);
  if (violations.length > 0) {
    say(`${violations.length} VIOLATION(S), seed ${seed}:`);
    for (const violation of violations) process.stdout.write(`  - ${violation}\n`);
    return 1;
  }
  say(`no violations (seed ${seed})`);
  return 0;
}

async function teardown(keep: boolean): Promise<void> {
  await overlapWatcher?.close().catch(() => {});
  if (cluster) await cluster.stop(30_000);
  else await worker.stop(30_000).catch(() => {});
  await broker.stop().catch(() => {});
  if (!keep) {
    for (const p of state) if (p.spec.store === "postgres") await dropPgTable(pgTarget, p.table);
    rmSync(runDir, { recursive: true, force: true });
  }
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping the worker and the broker, keeping ${runDir}`);
    void teardown(true).finally(() => process.exit(130));
  });
}

let code = 1;
try {
  code = await main();
} catch (error) {
  say(`torture failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  // A failing run keeps its folder (worker log, Pulsar log, SQLite files) and tables to look into.
  await teardown(code !== 0);
  if (code !== 0) say(`kept ${runDir} for inspection`);
}
process.exit(code);
