// PostgreSQL -> Pulsar change data capture: the debezium-postgres source (runtime in this process) against Debezium's
// own PostgreSQL connector (embedded engine in a JVM, tooling/bench/debezium, sending to Pulsar with the Java client
// and marking events processed after their receipts), on the same PostgreSQL cluster and Pulsar in the same run.
// Each side: a table of BENCH_SNAPSHOT_ROWS rows is snapshotted (timed from start to the last receipt), then
// BENCH_STREAM_ROWS rows are inserted in one transaction (timed from its commit to the last receipt).
// Usage: pnpm --filter @pulsar-connect/bench postgres-cdc   (needs `pnpm services up pulsar postgres-logical`;
// BENCH_SKIP_DEBEZIUM=1 runs our side alone)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import debeziumPostgres from "@pulsar-connect/source-debezium-postgres";
import pg from "pg";
import { findJava17, peakRssMb, revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const PG = {
  host: "127.0.0.1",
  port: Number(process.env.PG_LOGICAL_PORT ?? 7532),
  user: "postgres",
  database: "test",
};
const SNAPSHOT_ROWS = Number(process.env.BENCH_SNAPSHOT_ROWS ?? 200_000);
const STREAM_ROWS = Number(process.env.BENCH_STREAM_ROWS ?? 1_000_000);
const run = Date.now().toString(36);
const debeziumDir = join(import.meta.dirname, "../debezium");

const db = new pg.Client(PG);
await db.connect();

interface Figures {
  snapshotRowsPerSecond: number;
  streamChangesPerSecond: number;
  snapshotSeconds: number;
  streamSeconds: number;
}

async function prepareTable(side: string): Promise<string> {
  const table = `bench_${side}_${run}`;
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, customer text, amount numeric(10,2), at timestamptz)`);
  await db.query(
    `INSERT INTO ${table} SELECT g, 'customer-' || (g % 1000), (g % 997) / 10.0, now() FROM generate_series(1, $1) g`,
    [SNAPSHOT_ROWS],
  );
  await db.query(`VACUUM ANALYZE ${table}`);
  return table;
}

/** Inserts the streamed rows in one transaction; returns the commit time. */
async function insertStreamRows(table: string): Promise<number> {
  await db.query(
    `INSERT INTO ${table} SELECT g, 'customer-' || (g % 1000), (g % 997) / 10.0, now() FROM generate_series($1::int + 1, $1::int + $2::int) g`,
    [SNAPSHOT_ROWS, STREAM_ROWS],
  );
  return Date.now();
}

async function cleanup(slot: string, publication: string): Promise<void> {
  await db.query(
    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
    [slot],
  );
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await db.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [
        slot,
      ]);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await db.query(`DROP PUBLICATION IF EXISTS ${publication}`);
}

const waitUntil = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 1_800_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

async function ours(): Promise<Figures> {
  const table = await prepareTable("ours");
  const slot = `bench_ours_${run}`;
  const publication = `bench_ours_${run}`;
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const resolved = resolveSourceConfig({
    name: `bench-cdc-${run}`,
    archive: "builtin://debezium-postgres",
    topicName: `persistent://public/default/bench-cdc-unused-${run}`,
    processingGuarantees: "ATLEAST_ONCE",
    configs: {
      "database.hostname": PG.host,
      "database.port": PG.port,
      "database.user": PG.user,
      "database.dbname": PG.database,
      "topic.prefix": "bench",
      "slot.name": slot,
      "publication.name": publication,
      "publication.autocreate.mode": "filtered",
      "table.include.list": `public.${table}`,
      "status.update.interval.ms": 1000,
    },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition: debeziumPostgres,
    instanceId: 0,
    pulsar: { client: client as never, adminUrl: ADMIN_URL },
  });
  const start = performance.now();
  await instance.start();
  await waitUntil(() => instance.stats.written >= SNAPSHOT_ROWS, "our snapshot");
  const snapshotSeconds = (performance.now() - start) / 1000;
  // The stream starts once the snapshot is acknowledged; then the transaction is committed and timed.
  await waitUntil(() => instance.status().state === "running", "our stream");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const committedAt = await insertStreamRows(table);
  await waitUntil(() => instance.stats.written >= SNAPSHOT_ROWS + STREAM_ROWS, "our stream");
  const streamSeconds = (Date.now() - committedAt) / 1000;
  await instance.stop();
  await client.close();
  await cleanup(slot, publication);
  await db.query(`DROP TABLE ${table}`);
  return {
    snapshotSeconds,
    streamSeconds,
    snapshotRowsPerSecond: Math.round(SNAPSHOT_ROWS / snapshotSeconds),
    streamChangesPerSecond: Math.round(STREAM_ROWS / streamSeconds),
  };
}

function buildDebezium(): string {
  if (!existsSync(join(debeziumDir, "target/lib"))) {
    execFileSync("mvn", ["-q", "-B", "package", "-DskipTests"], {
      cwd: debeziumDir,
      stdio: "inherit",
      env: { ...process.env, JAVA_HOME: join(findJava17(), "../..") },
    });
  }
  return `${join(debeziumDir, "target/classes")}:${join(debeziumDir, "target/lib/*")}`;
}

async function debezium(): Promise<Figures & { peakRssMb: number | null }> {
  const classpath = buildDebezium();
  const table = await prepareTable("debezium");
  const slot = `bench_dbz_${run}`;
  const publication = `bench_dbz_${run}`;
  const offsets = join(mkdtempSync(join(tmpdir(), "bench-dbz-")), "offsets.dat");
  const java: ChildProcess = spawn(findJava17(), ["-Xmx1g", "-cp", classpath, "bench.DebeziumToPulsar"], {
    env: {
      ...process.env,
      PULSAR_SERVICE_URL: SERVICE_URL,
      PG_HOST: PG.host,
      PG_PORT: String(PG.port),
      PG_USER: PG.user,
      PG_DB: PG.database,
      BENCH_PREFIX: "benchdbz",
      BENCH_SLOT: slot,
      BENCH_PUBLICATION: publication,
      BENCH_TABLE: `public.${table}`,
      BENCH_OFFSETS: offsets,
      BENCH_REPORT_EVERY: "1000",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stored = 0;
  let lastAt = 0;
  let started = 0;
  createInterface({ input: java.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const [word, count, at] = line.split(" ");
    if (word === "STARTED") started = Number(count);
    if (word === "STORED") {
      stored = Number(count);
      lastAt = Number(at);
    }
  });
  await waitUntil(() => started > 0, "the JVM to start");
  await waitUntil(() => stored >= SNAPSHOT_ROWS, "Debezium's snapshot");
  const snapshotSeconds = (lastAt - started) / 1000;
  // Debezium streams once the snapshot is over; its slot turns active then.
  for (;;) {
    const active = await db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active", [slot]);
    if (active.rowCount === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const committedAt = await insertStreamRows(table);
  await waitUntil(() => stored >= SNAPSHOT_ROWS + STREAM_ROWS, "Debezium's stream");
  const streamSeconds = (lastAt - committedAt) / 1000;
  const peak = java.pid ? peakRssMb(java.pid) : null;
  java.kill("SIGTERM");
  await new Promise((resolve) => java.once("exit", resolve));
  await cleanup(slot, publication);
  await db.query(`DROP TABLE ${table}`);
  return {
    snapshotSeconds,
    streamSeconds,
    snapshotRowsPerSecond: Math.round(SNAPSHOT_ROWS / snapshotSeconds),
    streamChangesPerSecond: Math.round(STREAM_ROWS / streamSeconds),
    peakRssMb: peak,
  };
}

const loadBefore = loadavg()[0] as number;
const oursFigures = await ours();
process.stderr.write(`debezium-postgres (this project): ${JSON.stringify(oursFigures)}\n`);
const oursPeak = peakRssMb();
const reference = process.env.BENCH_SKIP_DEBEZIUM === "1" ? undefined : await debezium();
if (reference) process.stderr.write(`Debezium embedded: ${JSON.stringify(reference)}\n`);
await db.end();
const loadAfter = loadavg()[0] as number;

const ratio = (a: number, b: number | undefined) => (b ? Number((a / b).toFixed(2)) : null);
const summary = {
  benchmark: "postgres-cdc",
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores, Node ${process.version}`,
  snapshotRows: SNAPSHOT_ROWS,
  streamRows: STREAM_ROWS,
  guarantee: "ATLEAST_ONCE",
  loadAverage: { before: loadBefore, after: loadAfter },
  ours: { ...oursFigures, peakRssMb: oursPeak },
  debezium: reference ?? null,
  ratios: {
    snapshot: ratio(oursFigures.snapshotRowsPerSecond, reference?.snapshotRowsPerSecond),
    stream: ratio(oursFigures.streamChangesPerSecond, reference?.streamChangesPerSecond),
  },
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "postgres-cdc.json"), `${JSON.stringify(summary, null, 2)}\n`);
const row = (name: string, f: Figures | null | undefined) =>
  f ? `| ${name} | ${f.snapshotRowsPerSecond} | ${f.streamChangesPerSecond} |` : `| ${name} | not run | not run |`;
writeFileSync(
  join(dir, "postgres-cdc.md"),
  `# PostgreSQL -> Pulsar change data capture\n\n${summary.date}, ${summary.machine}, revision ${summary.revision}. ` +
    `PostgreSQL ${(await serverVersion()) ?? ""} (tooling/services postgres-logical), Pulsar 4.0 standalone, both on this machine. ` +
    `A table (int key, text, numeric(10,2), timestamptz) of ${SNAPSHOT_ROWS.toLocaleString("en")} rows is snapshotted ` +
    `(start to last send receipt), then ${STREAM_ROWS.toLocaleString("en")} rows are inserted in one transaction ` +
    `(commit to last send receipt). ATLEAST_ONCE, JSON change events, batching producers. The reference is Debezium ` +
    `${"2.7.3.Final"}'s PostgreSQL connector in its embedded engine (tooling/bench/debezium), sending each event with the Pulsar ` +
    `Java client and marking it processed after the receipt, in the same run on the same servers.\n\n` +
    `| connector | snapshot rows/s | streaming changes/s |\n| --- | ---: | ---: |\n` +
    `${row("debezium-postgres (this project)", oursFigures)}\n${row("Debezium embedded (reference)", reference)}\n` +
    `| ratio (this project / Debezium) | ${summary.ratios.snapshot ?? "-"} | ${summary.ratios.stream ?? "-"} |\n\n` +
    `Peak RSS: this process (runtime + connector + harness) ${oursPeak} MB; Debezium JVM ${reference?.peakRssMb ?? "-"} MB. ` +
    `1-minute load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after the run: the two sides run ` +
    "one after the other, so on a shared machine the ratios carry the load's variation.\n",
);

async function serverVersion(): Promise<string | undefined> {
  const probe = new pg.Client(PG);
  await probe.connect();
  const version = (await probe.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version;
  await probe.end();
  return version;
}
