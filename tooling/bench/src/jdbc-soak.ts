// Soak: data-generator -> Pulsar -> jdbc-postgres at EFFECTIVELY_ONCE, one source and one sink instance in this
// process, at a fixed rate for a fixed time; then checks that every record is in the table exactly once. Samples the
// rows written and the process RSS every 10 s and reports both slopes. Stops by itself.
// Usage: pnpm --filter @pulsar-connect/bench jdbc-soak   (BENCH_SOAK_SECONDS=1800, BENCH_SOAK_RATE=5000)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig, resolveSourceConfig } from "@pulsar-connect/runtime";
import jdbcPostgres from "@pulsar-connect/sink-jdbc-postgres";
import dataGenerator from "@pulsar-connect/source-data-generator";
import pg from "pg";
import { revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const PG = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
};
const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 1800);
const RATE = Number(process.env.BENCH_SOAK_RATE ?? 5000);
const SAMPLE_MS = 10_000;
// Seconds at which to write a heap snapshot (to the temporary folder), to compare what the heap holds over time.
const SNAPSHOT_AT = (process.env.BENCH_SOAK_SNAPSHOTS ?? "").split(",").filter(Boolean).map(Number);
const TOTAL = SECONDS * RATE;
const run = Date.now().toString(36);
const namespace = `public/bench-soak-${run}`;
const topic = `persistent://${namespace}/orders`;
const table = `bench_soak_${run}`;
const guarantee = "EFFECTIVELY_ONCE";

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  if (response.status >= 300 && response.status !== 409) throw new Error(`${method} ${path}: ${response.status}`);
}

async function rowCount(db: pg.Client): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
}

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  const sxy = points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const db = new pg.Client(PG);
await db.connect();
await admin("PUT", `/admin/v2/namespaces/${namespace}`);
await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
// No primary key: a duplicate stays visible as a second row.
await db.query(
  `CREATE TABLE ${table} (orderId BIGINT, customerId BIGINT, product TEXT, quantity INT, unitPrice DOUBLE PRECISION, total DOUBLE PRECISION, status TEXT)`,
);
const client = new PulsarClient({ serviceUrl: SERVICE_URL });
const sinkConfig = resolveSinkConfig({
  name: `soak-${run}-sink`,
  archive: "builtin://jdbc-postgres",
  inputs: [topic],
  sourceSubscriptionPosition: "Earliest",
  processingGuarantees: guarantee,
  configs: { jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`, userName: PG.user, tableName: table },
});
const sourceConfig = resolveSourceConfig({
  name: `soak-${run}-source`,
  archive: "builtin://data-generator",
  topicName: topic,
  processingGuarantees: guarantee,
  configs: { recordType: "orders", ratePerSecond: RATE, maxRecords: TOTAL },
});
if (!sinkConfig.ok || !sourceConfig.ok) throw new Error("invalid soak config");
const pulsar = { client, adminUrl: ADMIN_URL };
const sink = createInstance({
  kind: "sink",
  config: sinkConfig.value,
  definition: jdbcPostgres,
  instanceId: 0,
  pulsar,
});
const source = createInstance({
  kind: "source",
  config: sourceConfig.value,
  definition: dataGenerator,
  instanceId: 0,
  pulsar,
});
await sink.start();
const started = performance.now();
await source.start();

interface Sample {
  seconds: number;
  rows: number;
  rowsPerSecond: number;
  rssMb: number;
  /** What the JS heap holds after a full collection (with --expose-gc): the figure that grows when something leaks. */
  liveHeapMb: number | null;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  load1: number;
}
const samples: Sample[] = [];
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const collect = (globalThis as { gc?: () => void }).gc;
const pendingSnapshots = [...SNAPSHOT_AT].sort((a, b) => a - b);
let lastRows = 0;
let lastAt = started;
const deadline = started + SECONDS * 1000 + 600_000;
while (performance.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  const now = performance.now();
  const rows = await rowCount(db);
  const seconds = Math.round((now - started) / 1000);
  const rssMb = Math.round(process.memoryUsage.rss() / 2 ** 20);
  collect?.();
  const memory = process.memoryUsage();
  samples.push({
    seconds,
    rows,
    rowsPerSecond: Math.round(((rows - lastRows) * 1000) / (now - lastAt)),
    rssMb,
    liveHeapMb: collect ? mb(memory.heapUsed) : null,
    heapTotalMb: mb(memory.heapTotal),
    externalMb: mb(memory.external),
    arrayBuffersMb: mb(memory.arrayBuffers),
    load1: Math.round((loadavg()[0] ?? 0) * 10) / 10,
  });
  if (pendingSnapshots.length > 0 && seconds >= (pendingSnapshots[0] as number)) {
    pendingSnapshots.shift();
    process.stderr.write(
      `heap snapshot: ${writeHeapSnapshot(join(tmpdir(), `soak-${run}-${seconds}s.heapsnapshot`))}\n`,
    );
  }
  process.stderr.write(`${JSON.stringify(samples.at(-1))}\n`);
  lastRows = rows;
  lastAt = now;
  if (rows >= TOTAL) break;
}
await source.done;
await new Promise((resolve) => setTimeout(resolve, 2_000));
await sink.stop();
await client.close();

const check = (
  await db.query(
    `SELECT count(*) AS rows, count(DISTINCT orderId) AS distinct_ids, min(orderId) AS min_id, max(orderId) AS max_id FROM ${table}`,
  )
).rows[0] as Record<string, string>;
await db.query(`DROP TABLE ${table}`);
await db.end();
const rows = Number(check.rows);
const distinct = Number(check.distinct_ids);
const missing = TOTAL - distinct;
const duplicates = rows - distinct;
// Steady state: after the first minute (JIT, connection and buffer warm-up), while the source was still producing.
const steady = samples.filter((s) => s.seconds > 60 && s.seconds <= SECONDS);
const summary = {
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores shared with other users, Node ${process.version}`,
  guarantee,
  ratePerSecond: RATE,
  seconds: SECONDS,
  records: TOTAL,
  rows,
  missing,
  duplicates,
  idsInRange: Number(check.min_id) === 1 && Number(check.max_id) === TOTAL,
  steadyRowsPerSecond: Math.round(steady.reduce((sum, s) => sum + s.rowsPerSecond, 0) / Math.max(1, steady.length)),
  ratioToTargetRate: Number(
    (steady.reduce((sum, s) => sum + s.rowsPerSecond, 0) / Math.max(1, steady.length) / RATE).toFixed(3),
  ),
  throughputSlopeRowsPerSecondPerMinute: Number(
    (slope(steady.map((s) => ({ x: s.seconds / 60, y: s.rowsPerSecond }))) || 0).toFixed(1),
  ),
  rssSlopeMbPerMinute: Number((slope(steady.map((s) => ({ x: s.seconds / 60, y: s.rssMb }))) || 0).toFixed(2)),
  rssMbFirst: steady[0]?.rssMb ?? null,
  rssMbLast: steady.at(-1)?.rssMb ?? null,
  liveHeapSlopeMbPerMinute: collect
    ? Number((slope(steady.map((s) => ({ x: s.seconds / 60, y: s.liveHeapMb ?? 0 }))) || 0).toFixed(3))
    : null,
  liveHeapMbFirst: steady[0]?.liveHeapMb ?? null,
  liveHeapMbLast: steady.at(-1)?.liveHeapMb ?? null,
  loadAverage: {
    min: Math.min(...samples.map((s) => s.load1)),
    median: [...samples.map((s) => s.load1)].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? null,
    max: Math.max(...samples.map((s) => s.load1)),
  },
  samples,
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "jdbc-soak.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, "jdbc-soak.md"),
  `# Soak: data-generator -> Pulsar -> jdbc-postgres at ${guarantee}\n\n` +
    `${summary.date} (${summary.revision}), ${summary.machine}. ${RATE} records/s for ${SECONDS} s (${TOTAL} records), ` +
    "one source and one sink instance in one process; the machine was shared with other people's builds and tests.\n\n" +
    "| figure | value |\n| --- | ---: |\n" +
    `| rows written / records produced | ${rows} / ${TOTAL} |\n` +
    `| missing records | ${missing} |\n| duplicate rows | ${duplicates} |\n` +
    `| steady rows/s (after the first minute) | ${summary.steadyRowsPerSecond} |\n` +
    `| ratio to the target rate (same run) | ${summary.ratioToTargetRate} |\n` +
    `| throughput slope, rows/s per minute | ${summary.throughputSlopeRowsPerSecondPerMinute} |\n` +
    `| RSS first / last steady sample, MB | ${summary.rssMbFirst} / ${summary.rssMbLast} |\n` +
    `| RSS slope, MB per minute | ${summary.rssSlopeMbPerMinute} |\n` +
    `| live JS heap (after a full GC) first / last steady sample, MB | ${summary.liveHeapMbFirst} / ${summary.liveHeapMbLast} |\n` +
    `| live JS heap slope, MB per minute | ${summary.liveHeapSlopeMbPerMinute} |\n` +
    `| load average (1 min) min / median / max over the run | ${summary.loadAverage.min} / ${summary.loadAverage.median} / ${summary.loadAverage.max} |\n\n` +
    "Samples every 10 s are in jdbc-soak.json.\n",
);
process.stdout.write(`${JSON.stringify({ ...summary, samples: samples.length })}\n`);
if (missing !== 0 || duplicates !== 0) process.exitCode = 1;
