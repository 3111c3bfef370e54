// The jdbc-postgres sink draining a pre-filled topic, one instance through the runtime, INSERT and UPSERT at
// ATLEAST_ONCE and EFFECTIVELY_ONCE, with its COPY path and with the statement path it had before (the same build
// with the dialect's bulk write left out), against the ceiling measured in the same run: psql's \copy of the same
// rows into an empty table of the same shape.
// Usage: pnpm --filter @pulsar-connect/bench jdbc-postgres-copy   (needs Pulsar, PostgreSQL and psql)
// BENCH_ONLY=copy/INSERT/ATLEAST_ONCE runs one drain alone; with BENCH_TOPIC naming a topic filled by an earlier
// run (printed on stderr), the process does nothing but that drain, for `node --cpu-prof`.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { SinkDefinition } from "@pulsar-connect/core";
import { defineJdbcSink } from "@pulsar-connect/jdbc-common";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig, resolveSourceConfig } from "@pulsar-connect/runtime";
import jdbcPostgres, { postgresDialect } from "@pulsar-connect/sink-jdbc-postgres";
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
const ONLY = process.env.BENCH_ONLY;
const run = Date.now().toString(36);
const loadAtStart = loadavg().map((load) => Number(load.toFixed(2)));
const namespace = `public/bench-pgcopy-${run}`;
const topic = process.env.BENCH_TOPIC ?? `persistent://${namespace}/orders`;
const COLUMNS =
  "orderId BIGINT, customerId BIGINT, product TEXT, quantity INT, unitPrice DOUBLE PRECISION, total DOUBLE PRECISION, status TEXT";

type Guarantee = "ATLEAST_ONCE" | "EFFECTIVELY_ONCE";
type Mode = "INSERT" | "UPSERT";
type Path = "copy" | "statements";

/** The sink as it was: statements only, 1000 records per write. */
const statementsOnly: SinkDefinition = {
  ...(defineJdbcSink({
    name: "jdbc-postgres",
    description: "jdbc-postgres with its statement path alone",
    dialect: { ...postgresDialect, bulkWrite: undefined },
  }) as unknown as SinkDefinition),
  batchSize: 1000,
} as SinkDefinition;

/** BENCH_BATCH overrides the records per write the runtime hands the sink (the definition's batchSize). */
function withBatch(definition: SinkDefinition): SinkDefinition {
  const batch = process.env.BENCH_BATCH;
  return batch === undefined ? definition : ({ ...definition, batchSize: Number(batch) } as SinkDefinition);
}

let writeMs = 0;
let writes = 0;
/** The definition with its write() timed, to tell the sink's share of the drain from the runtime's. */
function timed(definition: SinkDefinition): SinkDefinition {
  return {
    ...definition,
    async open(config, context) {
      const inner = await definition.open(config, context);
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
}

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  if (response.status >= 300 && response.status !== 409) throw new Error(`${method} ${path}: ${response.status}`);
}

async function rowCount(db: pg.Client, table: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
}

async function fill(client: PulsarClient): Promise<void> {
  const resolved = resolveSourceConfig({
    name: `fill-${run}`,
    archive: "builtin://data-generator",
    topicName: topic,
    processingGuarantees: "ATLEAST_ONCE",
    configs: { recordType: "orders", ratePerSecond: 0, maxRecords: COUNT },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const source = createInstance({
    kind: "source",
    config: resolved.value,
    definition: dataGenerator,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
  await source.start();
  await source.done;
}

/** Seconds for one sink instance to drain the whole topic into an empty table. */
async function drain(
  db: pg.Client,
  client: PulsarClient,
  path: Path,
  mode: Mode,
  guarantee: Guarantee,
): Promise<{ rowsPerSecond: number; writeShare: number; rowsPerWrite: number }> {
  const id = `${path}-${mode}-${guarantee}-${run}`.toLowerCase().replaceAll("_", "-");
  const table = `bench_${id.replaceAll("-", "_")}`;
  await db.query(`CREATE TABLE ${table} (${COLUMNS}${mode === "UPSERT" ? ", PRIMARY KEY (orderId)" : ""})`);
  const resolved = resolveSinkConfig({
    name: `${id}-sink`,
    archive: "builtin://jdbc-postgres",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    processingGuarantees: guarantee,
    configs: {
      jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`,
      userName: PG.user,
      tableName: table,
      insertMode: mode,
    },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const sink = createInstance({
    kind: "sink",
    config: resolved.value,
    definition: timed(withBatch(path === "copy" ? (jdbcPostgres as unknown as SinkDefinition) : statementsOnly)),
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
  writeMs = 0;
  writes = 0;
  const started = performance.now();
  await sink.start();
  const deadline = Date.now() + 600_000;
  while ((await rowCount(db, table)) < COUNT) {
    if (Date.now() > deadline) throw new Error(`${id}: timed out`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  await sink.stop();
  const rows = await rowCount(db, table);
  if (rows !== COUNT) throw new Error(`${id}: ${rows} rows for ${COUNT} records`);
  await db.query(`DROP TABLE ${table}`);
  return {
    rowsPerSecond: Math.round(COUNT / seconds),
    writeShare: Number((writeMs / 1000 / seconds).toFixed(2)),
    rowsPerWrite: Math.round(COUNT / Math.max(1, writes)),
  };
}

function psql(command: string): void {
  execFileSync("psql", ["-h", PG.host, "-p", String(PG.port), "-U", PG.user, "-d", PG.database, "-qc", command]);
}

/** The rows as the sink writes them, drained once by the sink itself and saved as CSV for psql's \copy. */
async function ceilingRows(db: pg.Client, client: PulsarClient, file: string): Promise<void> {
  const source = `bench_ceiling_src_${run}`;
  await db.query(`CREATE TABLE ${source} (${COLUMNS})`);
  try {
    const resolved = resolveSinkConfig({
      name: `ceiling-${run}-sink`,
      archive: "builtin://jdbc-postgres",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      configs: {
        jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`,
        userName: PG.user,
        tableName: source,
      },
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const sink = createInstance({
      kind: "sink",
      config: resolved.value,
      definition: jdbcPostgres as unknown as SinkDefinition,
      instanceId: 0,
      pulsar: { client, adminUrl: ADMIN_URL },
    });
    await sink.start();
    while ((await rowCount(db, source)) < COUNT) await new Promise((resolve) => setTimeout(resolve, 50));
    await sink.stop();
    psql(`\\copy ${source} TO '${file}' CSV`);
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${source}`);
  }
}

let ceilingRuns = 0;
/** psql's \copy of the rows in `file` into an empty table: rows/s. */
async function copyCeiling(db: pg.Client, file: string): Promise<number> {
  ceilingRuns += 1;
  const target = `bench_ceiling_${run}_${ceilingRuns}`;
  await db.query(`CREATE TABLE ${target} (${COLUMNS})`);
  try {
    const started = performance.now();
    psql(`\\copy ${target} FROM '${file}' CSV`);
    const seconds = (performance.now() - started) / 1000;
    if ((await rowCount(db, target)) !== COUNT) throw new Error("ceiling: row count");
    return Math.round(COUNT / seconds);
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${target}`);
  }
}

const db = new pg.Client(PG);
await db.connect();
const client = new PulsarClient({ serviceUrl: SERVICE_URL });
if (process.env.BENCH_TOPIC === undefined) {
  await admin("PUT", `/admin/v2/namespaces/${namespace}`);
  await fill(client);
  process.stderr.write(`${topic} filled with ${COUNT} records\n`);
}

type Drain = Awaited<ReturnType<typeof drain>>;
const drains: Array<{ path: Path; mode: Mode; guarantee: Guarantee } & Drain> = [];
const csvDir = mkdtempSync(join(tmpdir(), "bench-pgcopy-"));
const csv = join(csvDir, "rows.csv");
let ceilingRowsPerSecond = 0;
if (ONLY === undefined) {
  await ceilingRows(db, client, csv);
  ceilingRowsPerSecond = await copyCeiling(db, csv);
  process.stderr.write(`ceiling: ${ceilingRowsPerSecond} rows/s\n`);
}
for (const mode of ["INSERT", "UPSERT"] as const) {
  for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
    for (const path of ["statements", "copy"] as const) {
      if (ONLY !== undefined && ONLY !== `${path}/${mode}/${guarantee}`) continue;
      const result = await drain(db, client, path, mode, guarantee);
      drains.push({ path, mode, guarantee, ...result });
      process.stderr.write(`${path} ${mode} ${guarantee}: ${JSON.stringify(result)}\n`);
    }
  }
}
// A second ceiling at the end: the machine is shared, and the two show how much the load moved during the run.
const ceilingAfter = ONLY === undefined ? await copyCeiling(db, csv) : 0;
rmSync(csvDir, { recursive: true, force: true });
await client.close();
await db.end();
if (ONLY !== undefined) process.exit(0);

const ceiling = Math.round((ceilingRowsPerSecond + ceilingAfter) / 2);
const statementRate = (mode: Mode, guarantee: Guarantee) =>
  drains.find((d) => d.path === "statements" && d.mode === mode && d.guarantee === guarantee)?.rowsPerSecond ?? 0;
const rows = drains.map((d) => ({
  ...d,
  ratioToCopyCeiling: Number((d.rowsPerSecond / ceiling).toFixed(3)),
  ratioToStatementPath: Number((d.rowsPerSecond / statementRate(d.mode, d.guarantee)).toFixed(2)),
}));
const summary = {
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores shared with other users, Node ${process.version}`,
  loadAverage: { start: loadAtStart, end: loadavg().map((load) => Number(load.toFixed(2))) },
  records: COUNT,
  ceilingRowsPerSecond: { before: ceilingRowsPerSecond, after: ceilingAfter, mean: ceiling },
  drains: rows,
  peakRssMb: peakRssMb(),
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "jdbc-postgres-copy.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, "jdbc-postgres-copy.md"),
  `# jdbc-postgres sink: COPY path against the statement path and PostgreSQL's own COPY\n\n` +
    `${summary.date} (${summary.revision}), ${summary.machine}, ${COUNT} order records from a pre-filled topic, one sink ` +
    "instance through the runtime, PostgreSQL 15 on the same machine. " +
    `Load average (1, 5, 15 min) ${summary.loadAverage.start.join(", ")} at the start, ${summary.loadAverage.end.join(", ")} at the end. ` +
    "The machine was shared by several people " +
    "running builds and tests during the run: absolute figures move with their load; the ratios are between " +
    "figures taken minutes apart in the same run.\n\n" +
    `Ceiling: psql \\copy (CSV) of the same ${COUNT} rows into an empty table: ${ceilingRowsPerSecond} rows/s before the drains, ` +
    `${ceilingAfter} after; ratios use the mean, ${ceiling}.\n\n` +
    "| mode | guarantee | path | rows/s | ratio to COPY ceiling | ratio to statement path | share of time in write() | rows per write |\n" +
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n" +
    rows
      .map(
        (d) =>
          `| ${d.mode} | ${d.guarantee} | ${d.path} | ${d.rowsPerSecond} | ${d.ratioToCopyCeiling} | ${d.ratioToStatementPath} | ${d.writeShare} | ${d.rowsPerWrite} |`,
      )
      .join("\n") +
    "\n\n`statements` is the sink as it was before the COPY path (multi-row `INSERT ... SELECT FROM unnest(...)`, " +
    "1000 records per write), run from the same build with the dialect's bulk write left out; `copy` is the sink " +
    "as it is now (COPY, 10,000 records per write).\n",
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
