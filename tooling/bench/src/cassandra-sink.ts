// Pulsar -> Cassandra through the cassandra sink and the runtime, in this process: N JSON records are put in a
// Pulsar topic first (not timed), then one sink instance writes them into a Cassandra table (structured mode).
// Timed from instance start until the runtime acked N records (acks follow durable writes); the row count is checked.
// Usage: pnpm --filter @pulsar-connect/bench cassandra-sink   (needs `pnpm services up cassandra pulsar`)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import cassandraSink from "@pulsar-connect/sink-cassandra";
import cassandra from "cassandra-driver";
import { peakRssMb, revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const CONTACT_POINTS = (process.env.CASSANDRA_CONTACT_POINTS ?? "127.0.0.1:9042").split(",");
const COUNT = Number(process.env.BENCH_COUNT ?? 100_000);
const run = Date.now().toString(36);
const keyspace = `bench_${run}`;

const admin = new cassandra.Client({
  contactPoints: CONTACT_POINTS,
  localDataCenter: "datacenter1",
  socketOptions: { readTimeout: 120_000 },
});
await admin.connect();
await admin.execute(
  `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
);
await admin.execute(`CREATE TABLE ${keyspace}.orders (id int PRIMARY KEY, customer text, amount double, at timestamp)`);

const client = new PulsarClient({ serviceUrl: SERVICE_URL });
const topic = `persistent://public/default/bench-cassandra-${run}`;
const producer = await client.createProducer({ topic, batchingEnabled: true, batchingMaxMessages: 1000 });
const pending: Array<Promise<unknown>> = [];
for (let id = 0; id < COUNT; id += 1) {
  const value = { id, customer: `customer-${id % 1000}`, amount: (id % 997) / 10, at: 1_700_000_000_000 + id };
  pending.push(producer.send({ value: Buffer.from(JSON.stringify(value)) }));
  if (pending.length >= 5000) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
await producer.close();

const resolved = resolveSinkConfig({
  name: `bench-cassandra-${run}`,
  archive: "builtin://cassandra",
  inputs: [topic],
  sourceSubscriptionPosition: "Earliest",
  processingGuarantees: "ATLEAST_ONCE",
  configs: { roots: CONTACT_POINTS.join(","), keyspace, columnFamily: "orders", mode: "structured" },
});
if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
const instance = createInstance({
  kind: "sink",
  config: resolved.value,
  definition: cassandraSink,
  instanceId: 0,
  pulsar: { client: client as never, adminUrl: ADMIN_URL },
});
const start = performance.now();
await instance.start();
const deadline = Date.now() + 600_000;
while (instance.stats.acked < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const seconds = (performance.now() - start) / 1000;
await instance.stop();
await client.close();
const rows = Number((await admin.execute(`SELECT COUNT(*) FROM ${keyspace}.orders`)).first()?.count);
await admin.execute(`DROP KEYSPACE ${keyspace}`);
await admin.shutdown();
if (rows !== COUNT) throw new Error(`expected ${COUNT} rows, found ${rows}`);

const summary = {
  benchmark: "cassandra-sink",
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores, Node ${process.version}`,
  records: COUNT,
  rows,
  rowsPerSecond: Math.round(COUNT / seconds),
  maxConcurrentRequests: 64,
  peakRssMb: peakRssMb(),
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "cassandra-sink.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, "cassandra-sink.md"),
  `# Pulsar -> Cassandra through the cassandra sink\n\n${summary.date}, ${summary.machine}, revision ${summary.revision}. ` +
    `${COUNT.toLocaleString("en")} JSON records in a Pulsar 4.0 topic, one sink instance (ATLEAST_ONCE, structured mode, ` +
    `64 requests in flight) in the benchmark process, single-node Cassandra 5.0; timed from instance start to the last ack.\n\n` +
    `| rows | rows/s |\n| ---: | ---: |\n| ${rows} | ${summary.rowsPerSecond} |\n\n` +
    `Peak RSS of the process (runtime + connector + test producer): ${summary.peakRssMb} MB.\n`,
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(0);
