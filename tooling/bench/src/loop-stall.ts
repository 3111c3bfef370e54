// Event-loop holding of one unthrottled data-generator -> SQLite pipeline at EFFECTIVELY_ONCE, in process: a 100 ms
// interval records how late each tick fires, and the run reports rows/s and the worst lateness.
// Usage: pnpm --filter @pulsar-connect/bench loop-stall   (needs `pnpm services up pulsar`; BENCH_SECONDS=30)
// Run it with `node --cpu-prof` and summarise the profile with profile-top.ts to see what holds the loop.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig, resolveSourceConfig } from "@pulsar-connect/runtime";
import jdbcSqlite from "@pulsar-connect/sink-jdbc-sqlite";
import dataGenerator from "@pulsar-connect/source-data-generator";
import Database from "better-sqlite3";
import { revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const run = Date.now().toString(36);
const namespace = `public/loop-stall-${run}`;
const topic = `persistent://${namespace}/people`;
const dir = mkdtempSync(join(tmpdir(), "loop-stall-"));
const dbFile = join(dir, "rows.db");
const db = new Database(dbFile);
db.pragma("journal_mode = WAL");
db.exec(
  "CREATE TABLE people (id INTEGER NOT NULL, firstName TEXT, lastName TEXT, email TEXT, age INTEGER, city TEXT, active INTEGER)",
);

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  if (response.status >= 300 && response.status !== 409) throw new Error(`${method} ${path}: ${response.status}`);
}

const PROBE_MS = 100;
const lateness: number[] = [];
/** The latest tick: how late, and when it fired in µs of the monotonic clock (the clock of a CPU profile's timeline). */
const worst = { lateMs: 0, firedAtUs: 0 };
let expected = performance.now() + PROBE_MS;
const probe = setInterval(() => {
  const now = performance.now();
  if (now - expected > worst.lateMs)
    Object.assign(worst, { lateMs: now - expected, firedAtUs: Number(process.hrtime.bigint() / 1000n) });
  lateness.push(now - expected);
  expected = now + PROBE_MS;
}, PROBE_MS);

await admin("PUT", `/admin/v2/namespaces/${namespace}`);
await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
const client = new PulsarClient({ serviceUrl: SERVICE_URL });
const source = resolveSourceConfig({
  name: "generator",
  archive: "builtin://data-generator",
  topicName: topic,
  processingGuarantees: "EFFECTIVELY_ONCE",
  configs: { recordType: "people", ratePerSecond: 0 },
});
const sink = resolveSinkConfig({
  name: "rows",
  archive: "builtin://jdbc-sqlite",
  inputs: [topic],
  sourceSubscriptionPosition: "Earliest",
  processingGuarantees: "EFFECTIVELY_ONCE",
  configs: { jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "people" },
});
if (!source.ok) throw new Error(JSON.stringify(source.issues));
if (!sink.ok) throw new Error(JSON.stringify(sink.issues));
const pulsar = { client, adminUrl: ADMIN_URL };
const sourceInstance = createInstance({
  kind: "source",
  config: source.value,
  definition: dataGenerator,
  instanceId: 0,
  pulsar,
});
const sinkInstance = createInstance({
  kind: "sink",
  config: sink.value,
  definition: jdbcSqlite,
  instanceId: 0,
  pulsar,
});
const startedAt = performance.now();
lateness.length = 0;
worst.lateMs = 0;
await sourceInstance.start();
await sinkInstance.start();
const written: number[] = [];
for (let s = 0; s < SECONDS; s += 1) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  written.push(sinkInstance.stats.written ?? 0);
}
const seconds = (performance.now() - startedAt) / 1000;
const sunk = sinkInstance.stats.written ?? 0;
const sent = sourceInstance.stats.written ?? 0;
await sourceInstance.stop();
await sinkInstance.stop();
clearInterval(probe);
await client.close();
const rows = (db.prepare("SELECT count(*) AS n FROM people").get() as { n: number }).n;
db.close();
rmSync(dir, { recursive: true, force: true });
const sorted = [...lateness].sort((a, b) => a - b);
const quantile = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
const summary = {
  revision: revision(),
  seconds: Number(seconds.toFixed(1)),
  sourceWritten: sent,
  sinkWritten: sunk,
  rows,
  sinkRowsPerSecond: Math.round(sunk / seconds),
  lateMsP50: quantile(0.5),
  lateMsP99: quantile(0.99),
  lateMsMax: Math.round(sorted.at(-1) ?? 0),
  worstTickFiredAtUs: worst.firedAtUs,
  ticksOver200Ms: lateness.filter((late) => late > 200).length,
  perSecond: written.map((n, i) => n - (written[i - 1] ?? 0)),
  loadAverage: loadavg().map((v) => Number(v.toFixed(2))),
};
const out = join(import.meta.dirname, "../results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "loop-stall.json"), `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify(summary));
