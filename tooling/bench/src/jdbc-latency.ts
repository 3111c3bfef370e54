// End-to-end latency, source -> Pulsar -> jdbc-postgres, one source and one sink instance in this process: a source
// stamps each record when it hands it to the runtime; the table stamps each row when it is inserted
// (clock_timestamp(), inside the transaction, before its commit). p50, p99, p99.9 at each rate, for the batching
// as it is (a batch goes when no more messages are arriving) and as it was (wait up to 2 ms for 1000 records).
// Usage: pnpm --filter @pulsar-connect/bench jdbc-latency   (BENCH_LATENCY_SECONDS=60, BENCH_LATENCY_RATES=1000,10000)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { defineSource, type SinkDefinition, type SourceRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig, resolveSourceConfig } from "@pulsar-connect/runtime";
import jdbcPostgres from "@pulsar-connect/sink-jdbc-postgres";
import pg from "pg";
import { revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 60);
const RATES = (process.env.BENCH_LATENCY_RATES ?? "1000,10000").split(",").map(Number);
const GUARANTEE = "ATLEAST_ONCE";
const run = Date.now().toString(36);
const namespace = `public/bench-latency-${run}`;

/**
 * `fixed-linger`: the sink waits up to 2 ms for 1000 records (as it was); `adaptive`: the sink batch goes when no
 * more messages are arriving, and the producer's when the source adds nothing more in a turn (the defaults);
 * `producer-delay-5ms`: adaptive sink, but the producer holds each batch for its 5 ms publish delay (as it was).
 */
type Batching = "adaptive" | "fixed-linger" | "producer-delay-5ms";

/**
 * The jdbc-postgres sink with two more stamps in each row, for the breakdown of the latency: `publishedAt`, when the
 * producer sent the record's batch to the broker (its publish time), and `handedAt`, when the runtime handed the
 * record's batch to the sink's write. `fixedLinger` is the batching as it was: wait up to 2 ms for a full batch of 1000.
 */
function stampingSink(fixedLinger: boolean): SinkDefinition {
  const base = jdbcPostgres as unknown as SinkDefinition;
  return {
    ...base,
    ...(fixedLinger ? { batchSize: 1000 } : {}),
    async open(config, context) {
      const inner = await base.open(config, context);
      return {
        ...inner,
        ...(fixedLinger ? { batching: { maxWaitMs: 2 } } : {}),
        write(records) {
          const handedAt = Date.now();
          return inner.write(
            records.map((record) => ({
              ...record,
              value: { ...(record.value as object), publishedAt: record.publishTime, handedAt },
            })),
          );
        },
      };
    },
  } as SinkDefinition;
}

function stampedSource(rate: number) {
  return defineSource({
    name: "stamped",
    description: "records stamped with the time they are generated",
    config: z.object({}),
    async open() {
      const total = rate * SECONDS;
      const started = performance.now();
      let next = 0;
      return {
        async read({ maxRecords }) {
          if (next >= total) return null;
          const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
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
}

async function rowCount(db: pg.Client, table: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
}

async function measure(db: pg.Client, rate: number, batching: Batching) {
  const id = `latency-${rate}-${batching}-${run}`;
  const topic = `persistent://${namespace}/${id}`;
  const table = `bench_${id.replaceAll("-", "_")}`;
  await db.query(
    `CREATE TABLE ${table} (id BIGINT, sentat BIGINT, publishedat BIGINT, handedat BIGINT, written_at TIMESTAMPTZ DEFAULT clock_timestamp())`,
  );
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const pulsar = { client, adminUrl: ADMIN_URL };
  const sinkConfig = resolveSinkConfig({
    name: `${id}-sink`,
    archive: "builtin://jdbc-postgres",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    processingGuarantees: GUARANTEE,
    configs: { jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`, userName: PG.user, tableName: table },
  });
  const sourceConfig = resolveSourceConfig({
    name: `${id}-source`,
    archive: "builtin://stamped",
    topicName: topic,
    processingGuarantees: GUARANTEE,
    configs: {},
    ...(batching === "producer-delay-5ms" ? { producerConfig: { batchingMaxPublishDelayMs: 5 } } : {}),
  });
  if (!sinkConfig.ok || !sourceConfig.ok) throw new Error("invalid config");
  const definition = stampingSink(batching === "fixed-linger");
  const sink = createInstance({ kind: "sink", config: sinkConfig.value, definition, instanceId: 0, pulsar });
  await sink.start();
  const source = createInstance({
    kind: "source",
    config: sourceConfig.value,
    definition: stampedSource(rate),
    instanceId: 0,
    pulsar,
  });
  const startedAt = performance.now();
  await source.start();
  await source.done;
  const total = rate * SECONDS;
  const deadline = Date.now() + 120_000;
  while ((await rowCount(db, table)) < total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Rows per second from the source's start to the last row (within 0.1 s): below the rate when the pipeline lags.
  const rowsPerSecond = Math.round((total * 1000) / (performance.now() - startedAt));
  await sink.stop();
  await client.close();
  const writtenAt = "extract(epoch FROM written_at) * 1000";
  const latency = `${writtenAt} - sentat`;
  const { rows } = await db.query(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ${latency}) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ${latency}) AS p99,
            percentile_cont(0.999) WITHIN GROUP (ORDER BY ${latency}) AS p999,
            count(*) AS n FROM ${table}`,
  );
  // Where the time goes, per stage (p50 / p99 of each): source hand-off and producer batching (sentAt ->
  // publishedAt), broker, consumer and the sink's batch wait (publishedAt -> handedAt), INSERT (handedAt -> written).
  const stages = {
    producer: "publishedat - sentat",
    brokerToSink: "handedat - publishedat",
    insert: `${writtenAt} - handedat`,
  };
  const breakdown: Record<string, { p50Ms: number; p99Ms: number }> = {};
  for (const [stage, expression] of Object.entries(stages)) {
    const row = (
      await db.query(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ${expression}) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ${expression}) AS p99 FROM ${table}`,
      )
    ).rows[0] as { p50: unknown; p99: unknown } | undefined;
    breakdown[stage] = { p50Ms: Number(Number(row?.p50).toFixed(1)), p99Ms: Number(Number(row?.p99).toFixed(1)) };
  }
  await db.query(`DROP TABLE ${table}`);
  const n = Number(rows[0]?.n);
  if (n !== total) throw new Error(`${id}: ${n} rows of ${total}`);
  const ms = (value: unknown) => Number(Number(value).toFixed(1));
  return {
    rate,
    batching,
    p50Ms: ms(rows[0]?.p50),
    p99Ms: ms(rows[0]?.p99),
    p999Ms: ms(rows[0]?.p999),
    rowsPerSecond,
    breakdown,
    load1: Math.round((loadavg()[0] ?? 0) * 10) / 10,
  };
}

const db = new pg.Client(PG);
await db.connect();
const response = await fetch(`${ADMIN_URL}/admin/v2/namespaces/${namespace}`, { method: "PUT" });
if (response.status >= 300 && response.status !== 409) throw new Error(`namespace: ${response.status}`);
const results: Array<Awaited<ReturnType<typeof measure>>> = [];
for (const rate of RATES) {
  for (const batching of ["fixed-linger", "producer-delay-5ms", "adaptive"] as const) {
    const result = await measure(db, rate, batching);
    results.push(result);
    process.stderr.write(`${JSON.stringify(result)}\n`);
  }
}
await db.end();

const withRatio = results.map((r) => {
  const reference = results.find((other) => other.rate === r.rate && other.batching === "fixed-linger");
  return { ...r, p99RatioToFixedLinger: reference ? Number((r.p99Ms / reference.p99Ms).toFixed(2)) : null };
});
const summary = {
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores shared with other users, Node ${process.version}`,
  guarantee: GUARANTEE,
  seconds: SECONDS,
  results: withRatio,
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
const NAME = process.env.BENCH_LATENCY_NAME ?? "jdbc-latency";
// What the broker is configured with, as far as latency goes (the run's own broker may differ from the default).
const BROKER_NOTE =
  process.env.BENCH_LATENCY_BROKER_NOTE ??
  "managedLedgerNewEntriesCheckDelayInMillis left at Pulsar's default (10 ms): a consumer that has caught up learns of a new entry up to 10 ms after it is stored.";
writeFileSync(join(dir, `${NAME}.json`), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, `${NAME}.md`),
  "# End-to-end latency: source -> Pulsar -> jdbc-postgres\n\n" +
    `${summary.date} (${summary.revision}), ${summary.machine}, ${GUARANTEE}, ${SECONDS} s per rate, broker ${SERVICE_URL}, one source and one ` +
    "sink instance in one process. The machine was shared with other people's builds and tests during the run. " +
    "Latency: from the source handing a record to the runtime to its row inserted (clock_timestamp(), before the " +
    "commit). `fixed-linger`: the sink waits up to 2 ms for 1000 records (as it was), the reference of the ratio; " +
    "`producer-delay-5ms`: adaptive sink, the producer holds each batch for the 5 ms publish delay (as it was); " +
    "`adaptive`: the defaults now, the sink batch goes as soon as no more messages are arriving (up to 10,000 " +
    "records) and the producer batch as soon as the source adds nothing more in a turn of the event loop.\n\n" +
    "| rate/s | batching | rows/s | p50 ms | p99 ms | p99.9 ms | p99 ratio to fixed-linger | load (1 min) |\n" +
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
    withRatio
      .map(
        (r) =>
          `| ${r.rate} | ${r.batching} | ${r.rowsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.p999Ms} | ${r.p99RatioToFixedLinger} | ${r.load1} |`,
      )
      .join("\n") +
    `\n\nBroker: ${BROKER_NOTE}` +
    "\n\nWhere the time goes, p50 / p99 in ms of each stage: source hand-off and producer batching (the record's " +
    "time to its batch's publish time), broker, consumer and the sink's batch wait (publish time to the sink's " +
    "write), INSERT (write to the row's clock_timestamp()).\n\n" +
    "| rate/s | batching | source -> publish | publish -> sink write | sink write -> row |\n| ---: | --- | ---: | ---: | ---: |\n" +
    withRatio
      .map(
        (r) =>
          `| ${r.rate} | ${r.batching} | ${r.breakdown.producer?.p50Ms} / ${r.breakdown.producer?.p99Ms} | ${r.breakdown.brokerToSink?.p50Ms} / ${r.breakdown.brokerToSink?.p99Ms} | ${r.breakdown.insert?.p50Ms} / ${r.breakdown.insert?.p99Ms} |`,
      )
      .join("\n") +
    "\n",
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
