// The three JDBC sinks' write() alone (no Pulsar): the same order records, in batches as the runtime hands them
// (BENCH_BATCH, default 10,000: the JDBC sinks' batchSize), INSERT at ATLEAST_ONCE and EFFECTIVELY_ONCE, each
// against its database's own ingest ceiling measured in the same run: PostgreSQL psql \copy (CSV), MariaDB
// LOAD DATA LOCAL INFILE, SQLite one transaction of prepared inserts.
// Usage: pnpm --filter @pulsar-connect/bench jdbc-sink-write   (needs PostgreSQL, MariaDB and psql)
import { execFileSync } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ProcessingGuarantee, type SinkDefinition, type SinkRecord } from "@pulsar-connect/core";
import jdbcMariadb from "@pulsar-connect/sink-jdbc-mariadb";
import jdbcPostgres from "@pulsar-connect/sink-jdbc-postgres";
import jdbcSqlite from "@pulsar-connect/sink-jdbc-sqlite";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import Database from "better-sqlite3";
import mysql from "mysql2/promise";
import pg from "pg";
import { revision } from "./common.ts";

const COUNT = Number(process.env.BENCH_COUNT ?? 100_000);
/** BENCH_DATABASES=PostgreSQL,SQLite runs only those (for profiling one). */
const DATABASES = new Set((process.env.BENCH_DATABASES ?? "PostgreSQL,MariaDB,SQLite").split(","));
const BATCH = Number(process.env.BENCH_BATCH ?? 10_000);
/** BENCH_SINK_CONFIGS='{"batchSize":0}' adds sink configs (for trying settings). */
const SINK_CONFIGS = JSON.parse(process.env.BENCH_SINK_CONFIGS ?? "{}") as Record<string, unknown>;
const run = Date.now().toString(36);
const PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };
const MARIADB = { host: "127.0.0.1", port: 3306, user: "root", password: "", database: "test" };
const COLUMNS =
  "orderId BIGINT, customerId BIGINT, product TEXT, quantity INT, unitPrice DOUBLE PRECISION, total DOUBLE PRECISION, status TEXT";
const dir = mkdtempSync(join(tmpdir(), "bench-sink-write-"));
const loadAtStart = loadavg().map((load) => Number(load.toFixed(2)));

interface Order {
  orderId: number;
  customerId: number;
  product: string;
  quantity: number;
  unitPrice: number;
  total: number;
  status: string;
}
const statuses = ["NEW", "PAID", "SHIPPED", "DELIVERED"];
const orders: Order[] = Array.from({ length: COUNT }, (_, i) => {
  const quantity = (i % 9) + 1;
  const unitPrice = Math.round(((i * 7919) % 10_000) + 99) / 100;
  return {
    orderId: i + 1,
    customerId: (i * 31) % 50_000,
    product: `product-${i % 1000}`,
    quantity,
    unitPrice,
    total: Math.round(quantity * unitPrice * 100) / 100,
    status: statuses[i % 4] as string,
  };
});
const records: SinkRecord[] = makeSinkRecords(
  orders.map((value) => ({ value })),
  { ledgerId: 5n },
);
const csv = join(dir, "orders.csv");
writeFileSync(
  csv,
  `${orders.map((o) => [o.orderId, o.customerId, o.product, o.quantity, o.unitPrice, o.total, o.status].join(",")).join("\n")}\n`,
);

/** Seconds for `definition` to write every record in batches of BATCH. */
async function sinkSeconds(
  definition: SinkDefinition,
  configs: Record<string, unknown>,
  guarantee: ProcessingGuarantee,
): Promise<number> {
  const config = loadConfig(definition.config, { ...SINK_CONFIGS, ...configs });
  const { context } = createSinkContext({ name: `bench-${run}-${guarantee}` });
  const sink = await definition.open(config, { ...context, processingGuarantee: guarantee });
  const started = performance.now();
  for (let start = 0; start < records.length; start += BATCH) {
    const outcome = await sink.write(records.slice(start, start + BATCH));
    if (outcome !== undefined) throw new Error(`write failed: ${outcome.failed[0]?.error.message}`);
  }
  const seconds = (performance.now() - started) / 1000;
  await sink.close();
  return seconds;
}

type Row = {
  database: string;
  ceiling: string;
  ceilingRowsPerSecond: number;
  guarantee: string;
  rowsPerSecond: number;
};
const rows: Row[] = [];
const rate = (seconds: number) => Math.round(COUNT / seconds);

// PostgreSQL
if (DATABASES.has("PostgreSQL")) {
  const db = new pg.Client(PG);
  await db.connect();
  const table = (name: string) => `bench_sw_${name}_${run}`;
  const ceilingTable = table("ceiling");
  await db.query(`CREATE TABLE ${ceilingTable} (${COLUMNS})`);
  const started = performance.now();
  execFileSync("psql", [
    "-h",
    PG.host,
    "-U",
    PG.user,
    "-d",
    PG.database,
    "-qc",
    `\\copy ${ceilingTable} FROM '${csv}' CSV`,
  ]);
  const ceiling = rate((performance.now() - started) / 1000);
  for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
    const name = table(guarantee.toLowerCase());
    await db.query(`CREATE TABLE ${name} (${COLUMNS})`);
    const seconds = await sinkSeconds(
      jdbcPostgres as unknown as SinkDefinition,
      { jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`, userName: PG.user, tableName: name },
      guarantee,
    );
    rows.push({
      database: "PostgreSQL",
      ceiling: "psql \\copy",
      ceilingRowsPerSecond: ceiling,
      guarantee,
      rowsPerSecond: rate(seconds),
    });
    await db.query(`DROP TABLE ${name}`);
  }
  await db.query(`DROP TABLE ${ceilingTable}`);
  await db.end();
}

// MariaDB
if (DATABASES.has("MariaDB")) {
  const db = await mysql.createConnection({
    ...MARIADB,
    infileStreamFactory: (path: string) => createReadStream(path),
  });
  const table = (name: string) => `bench_sw_${name}_${run}`;
  const ceilingTable = table("ceiling");
  const ddl = COLUMNS.replaceAll("DOUBLE PRECISION", "DOUBLE");
  await db.query(`CREATE TABLE ${ceilingTable} (${ddl}) ENGINE=InnoDB`);
  const started = performance.now();
  await db.query(`LOAD DATA LOCAL INFILE '${csv}' INTO TABLE ${ceilingTable} FIELDS TERMINATED BY ','`);
  const ceiling = rate((performance.now() - started) / 1000);
  for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
    const name = table(guarantee.toLowerCase());
    await db.query(`CREATE TABLE ${name} (${ddl}) ENGINE=InnoDB`);
    const seconds = await sinkSeconds(
      jdbcMariadb as unknown as SinkDefinition,
      {
        jdbcUrl: `jdbc:mariadb://${MARIADB.host}:${MARIADB.port}/${MARIADB.database}`,
        userName: MARIADB.user,
        tableName: name,
      },
      guarantee,
    );
    rows.push({
      database: "MariaDB",
      ceiling: "LOAD DATA LOCAL INFILE",
      ceilingRowsPerSecond: ceiling,
      guarantee,
      rowsPerSecond: rate(seconds),
    });
    await db.query(`DROP TABLE ${name}`);
  }
  await db.query(`DROP TABLE ${ceilingTable}`);
  await db.end();
}

// SQLite
if (DATABASES.has("SQLite")) {
  const ceilingFile = join(dir, "ceiling.db");
  const ceilingDb = new Database(ceilingFile);
  ceilingDb.exec(`CREATE TABLE orders (${COLUMNS})`);
  const insert = ceilingDb.prepare("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)");
  const started = performance.now();
  ceilingDb.transaction(() => {
    for (const o of orders) insert.run(o.orderId, o.customerId, o.product, o.quantity, o.unitPrice, o.total, o.status);
  })();
  const ceiling = rate((performance.now() - started) / 1000);
  ceilingDb.close();
  for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
    const file = join(dir, `${guarantee}.db`);
    const db = new Database(file);
    db.exec(`CREATE TABLE orders (${COLUMNS})`);
    db.close();
    const seconds = await sinkSeconds(
      jdbcSqlite as unknown as SinkDefinition,
      { jdbcUrl: `jdbc:sqlite:${file}`, tableName: "orders" },
      guarantee,
    );
    rows.push({
      database: "SQLite",
      ceiling: "one transaction of prepared inserts",
      ceilingRowsPerSecond: ceiling,
      guarantee,
      rowsPerSecond: rate(seconds),
    });
  }
}
rmSync(dir, { recursive: true, force: true });

const results = rows.map((row) => ({
  ...row,
  ratioToCeiling: Number((row.rowsPerSecond / row.ceilingRowsPerSecond).toFixed(3)),
}));
const summary = {
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores shared with other users, Node ${process.version}`,
  loadAverage: { start: loadAtStart, end: loadavg().map((load) => Number(load.toFixed(2))) },
  records: COUNT,
  batch: BATCH,
  results,
};
if (DATABASES.size < 3) {
  process.stdout.write(`${JSON.stringify(rows)}\n`);
  process.exit(0);
}
const out = join(import.meta.dirname, "../results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "jdbc-sink-write.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(out, "jdbc-sink-write.md"),
  "# JDBC sinks: write() against each database's own ingest ceiling\n\n" +
    `${summary.date} (${summary.revision}), ${summary.machine}. ${COUNT} order records handed to write() in batches ` +
    `of ${BATCH} (no Pulsar: the sink alone), INSERT into an empty table without keys; servers on the same machine. ` +
    `Load average (1, 5, 15 min) ${summary.loadAverage.start.join(", ")} at the start, ${summary.loadAverage.end.join(", ")} at the end. ` +
    "The machine was shared with other people's builds and tests during the run: each ratio is to its ceiling measured " +
    "a few seconds before, in the same run.\n\n" +
    "| database | guarantee | sink rows/s | ceiling | ceiling rows/s | ratio to ceiling |\n| --- | --- | ---: | --- | ---: | ---: |\n" +
    results
      .map(
        (r) =>
          `| ${r.database} | ${r.guarantee} | ${r.rowsPerSecond} | ${r.ceiling} | ${r.ceilingRowsPerSecond} | ${r.ratioToCeiling} |`,
      )
      .join("\n") +
    "\n",
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
