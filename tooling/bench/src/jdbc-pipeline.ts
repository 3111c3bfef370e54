// data-generator -> Pulsar -> jdbc-postgres through the runtime, one source and one sink instance in this process,
// at ATLEAST_ONCE and EFFECTIVELY_ONCE: rows/s end to end (first record generated to last row committed), the sink's
// drain rate from a pre-filled topic, and the peak RSS of the process running both instances.
// Usage: pnpm --filter @pulsar-connect/bench jdbc-pipeline   (needs Pulsar and PostgreSQL: pnpm services up pulsar postgres)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineSource, type SinkDefinition, type SourceRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig, resolveSourceConfig } from "@pulsar-connect/runtime";
import jdbcPostgres from "@pulsar-connect/sink-jdbc-postgres";
import dataGenerator from "@pulsar-connect/source-data-generator";
import pg from "pg";
import { peakRssMb, revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const PG = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
};
const COUNT = Number(process.env.BENCH_COUNT ?? 200_000);
const run = Date.now().toString(36);
const namespace = `public/bench-jdbc-${run}`;
type Guarantee = "ATLEAST_ONCE" | "EFFECTIVELY_ONCE";

/** Milliseconds spent inside the sink's write() calls, to tell the sink's share from the runtime's. */
let writeMs = 0;
let writes = 0;
const timedSink: SinkDefinition = {
  ...jdbcPostgres,
  async open(config, context) {
    const inner = await jdbcPostgres.open(config, context);
    return {
      async write(records) {
        const started = performance.now();
        try {
          return await inner.write(records);
        } finally {
          writeMs += performance.now() - started;
          writes += 1;
        }
      },
      storedPositions: () => inner.storedPositions?.() ?? Promise.resolve([]),
      close: () => inner.close(),
    };
  },
} as SinkDefinition;

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  if (response.status >= 300 && response.status !== 409) throw new Error(`${method} ${path}: ${response.status}`);
}

async function rowCount(db: pg.Client, table: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
}

async function waitForRows(db: pg.Client, table: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while ((await rowCount(db, table)) < COUNT) {
    if (Date.now() > deadline) throw new Error(`${table}: timed out`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function source(client: PulsarClient, topic: string, guarantee: Guarantee, name: string) {
  const resolved = resolveSourceConfig({
    name,
    archive: "builtin://data-generator",
    topicName: topic,
    processingGuarantees: guarantee,
    configs: { recordType: "orders", ratePerSecond: 0, maxRecords: COUNT },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  return createInstance({
    kind: "source",
    config: resolved.value,
    definition: dataGenerator,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
}

function sink(client: PulsarClient, topic: string, guarantee: Guarantee, name: string, tableName: string) {
  const resolved = resolveSinkConfig({
    name,
    archive: "builtin://jdbc-postgres",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    processingGuarantees: guarantee,
    configs: { jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`, userName: PG.user, tableName },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  return createInstance({
    kind: "sink",
    config: resolved.value,
    definition: timedSink,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
}

async function createTable(db: pg.Client, table: string): Promise<void> {
  // No primary key: a duplicate would be counted.
  await db.query(
    `CREATE TABLE ${table} (orderId BIGINT, customerId BIGINT, product TEXT, quantity INT, unitPrice DOUBLE PRECISION, total DOUBLE PRECISION, status TEXT)`,
  );
}

/** Generator and sink running at the same time: seconds from start until the last row is in the table. */
async function pipeline(db: pg.Client, guarantee: Guarantee): Promise<number> {
  const id = `pipeline-${guarantee.toLowerCase().replace("_", "-")}-${run}`;
  const topic = `persistent://${namespace}/${id}`;
  const table = `bench_${id.replaceAll("-", "_")}`;
  await createTable(db, table);
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const sinkInstance = sink(client, topic, guarantee, `${id}-sink`, table);
  const sourceInstance = source(client, topic, guarantee, `${id}-source`);
  await sinkInstance.start();
  const started = performance.now();
  await sourceInstance.start();
  await waitForRows(db, table);
  const seconds = (performance.now() - started) / 1000;
  await sourceInstance.done;
  await sinkInstance.stop();
  await client.close();
  const rows = await rowCount(db, table);
  if (rows !== COUNT) throw new Error(`${guarantee}: ${rows} rows for ${COUNT} records`);
  await db.query(`DROP TABLE ${table}`);
  return seconds;
}

/** The sink alone, draining a topic that already holds every record. */
async function drain(
  db: pg.Client,
  guarantee: Guarantee,
): Promise<{ seconds: number; writeShare: number; rowsPerWrite: number }> {
  const id = `drain-${guarantee.toLowerCase().replace("_", "-")}-${run}`;
  const topic = `persistent://${namespace}/${id}`;
  const table = `bench_${id.replaceAll("-", "_")}`;
  await createTable(db, table);
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const sourceInstance = source(client, topic, guarantee, `${id}-source`);
  await sourceInstance.start();
  await sourceInstance.done;
  const sinkInstance = sink(client, topic, guarantee, `${id}-sink`, table);
  writeMs = 0;
  writes = 0;
  const started = performance.now();
  await sinkInstance.start();
  await waitForRows(db, table);
  const seconds = (performance.now() - started) / 1000;
  await sinkInstance.stop();
  await client.close();
  await db.query(`DROP TABLE ${table}`);
  return { seconds, writeShare: writeMs / 1000 / seconds, rowsPerWrite: COUNT / Math.max(1, writes) };
}

const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 1000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);

/** Records `{ id, sentAt }` at LATENCY_RATE per second, stamped when they are handed to the runtime. */
const stampedSource = defineSource({
  name: "stamped",
  description: "records stamped with the time they are generated",
  config: z.object({}),
  async open() {
    const total = LATENCY_RATE * LATENCY_SECONDS;
    const started = performance.now();
    let next = 0;
    return {
      async read({ maxRecords }) {
        if (next >= total) return null;
        const due = Math.min(total, Math.floor(((performance.now() - started) * LATENCY_RATE) / 1000) + 1);
        if (due <= next) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          return [];
        }
        const records: SourceRecord[] = [];
        const sentAt = Date.now();
        for (; next < due && records.length < maxRecords; next++) {
          records.push({ value: { id: next, sentAt }, partitionId: "stamped-0", sequence: BigInt(next) });
        }
        return records;
      },
      async close() {},
    };
  },
});

/** p50 and p99 of (row inserted - record generated) at LATENCY_RATE records/s. */
async function latency(
  db: pg.Client,
  guarantee: Guarantee,
): Promise<{ p50Ms: number; p99Ms: number; p99AfterStartMs: number }> {
  const id = `latency-${guarantee.toLowerCase().replace("_", "-")}-${run}`;
  const topic = `persistent://${namespace}/${id}`;
  const table = `bench_${id.replaceAll("-", "_")}`;
  await db.query(`CREATE TABLE ${table} (id BIGINT, sentat BIGINT, written_at TIMESTAMPTZ DEFAULT clock_timestamp())`);
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const sinkInstance = sink(client, topic, guarantee, `${id}-sink`, table);
  await sinkInstance.start();
  const resolved = resolveSourceConfig({
    name: `${id}-source`,
    archive: "builtin://stamped",
    topicName: topic,
    processingGuarantees: guarantee,
    configs: {},
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const sourceInstance = createInstance({
    kind: "source",
    config: resolved.value,
    definition: stampedSource,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
  await sourceInstance.start();
  await sourceInstance.done;
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const deadline = Date.now() + 60_000;
  while ((await rowCount(db, table)) < total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await sinkInstance.stop();
  await client.close();
  const { rows } = await db.query(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM written_at) * 1000 - sentat) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM written_at) * 1000 - sentat) AS p99,
            count(*) AS n,
            (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM written_at) * 1000 - sentat)
               FROM ${table} WHERE sentat > (SELECT min(sentat) + 2000 FROM ${table})) AS p99_after_start
       FROM ${table}`,
  );
  await db.query(`DROP TABLE ${table}`);
  if (Number(rows[0]?.n) !== total) throw new Error(`${guarantee} latency run: ${rows[0]?.n} rows of ${total}`);
  return {
    p50Ms: Math.round(Number(rows[0]?.p50)),
    p99Ms: Math.round(Number(rows[0]?.p99)),
    p99AfterStartMs: Math.round(Number(rows[0]?.p99_after_start)),
  };
}

const db = new pg.Client(PG);
await db.connect();
await admin("PUT", `/admin/v2/namespaces/${namespace}`);
await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
type Result = {
  pipelineRowsPerSecond: number;
  drainRowsPerSecond: number;
  drainTimeInWrite: number;
  rowsPerWrite: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyP99AfterStartMs: number;
};
const empty: Result = {
  pipelineRowsPerSecond: 0,
  drainRowsPerSecond: 0,
  drainTimeInWrite: 0,
  rowsPerWrite: 0,
  latencyP50Ms: 0,
  latencyP99Ms: 0,
  latencyP99AfterStartMs: 0,
};
const results: Record<Guarantee, Result> = { ATLEAST_ONCE: empty, EFFECTIVELY_ONCE: empty };
for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
  const pipelineSeconds = await pipeline(db, guarantee);
  const drained = await drain(db, guarantee);
  const latencies = await latency(db, guarantee);
  results[guarantee] = {
    latencyP50Ms: latencies.p50Ms,
    latencyP99Ms: latencies.p99Ms,
    latencyP99AfterStartMs: latencies.p99AfterStartMs,
    pipelineRowsPerSecond: Math.round(COUNT / pipelineSeconds),
    drainRowsPerSecond: Math.round(COUNT / drained.seconds),
    drainTimeInWrite: Number(drained.writeShare.toFixed(2)),
    rowsPerWrite: Math.round(drained.rowsPerWrite),
  };
  process.stderr.write(`${guarantee}: ${JSON.stringify(results[guarantee])}\n`);
}
await db.end();

const summary = {
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores, Node ${process.version}`,
  records: COUNT,
  results,
  peakRssMb: peakRssMb(),
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "jdbc-pipeline.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, "jdbc-pipeline.md"),
  `# data-generator -> Pulsar -> jdbc-postgres\n\n${summary.date} (${summary.revision}), ${summary.machine}, ${COUNT} order records per run, ` +
    "one source and one sink instance in one process, PostgreSQL 15 on the same machine.\n\n" +
    "| guarantee | end to end rows/s | sink drain rows/s | share of drain time inside write() | rows per write | " +
    `latency p50 ms at ${LATENCY_RATE}/s | latency p99 ms at ${LATENCY_RATE}/s | p99 ms after the first 2 s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n` +
    (["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const)
      .map((guarantee) => {
        const result = results[guarantee];
        return `| ${guarantee} | ${result.pipelineRowsPerSecond} | ${result.drainRowsPerSecond} | ${result.drainTimeInWrite} | ${result.rowsPerWrite} | ${result.latencyP50Ms} | ${result.latencyP99Ms} | ${result.latencyP99AfterStartMs} |`;
      })
      .join("\n") +
    `\n\nLatency: from a record handed to the runtime by the source to its row inserted (clock_timestamp(), before the commit), ${LATENCY_RATE} records/s for ${LATENCY_SECONDS} s. ` +
    `Peak RSS of the process running both instances: ${summary.peakRssMb} MB.\n`,
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
