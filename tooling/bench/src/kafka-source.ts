// Kafka -> Pulsar through the kafka source and the runtime, in this process: N records of SIZE bytes are put in a
// Kafka topic first (not timed), then one source instance moves them into Pulsar. Timed from instance start until
// the runtime counted N records written to Pulsar. Reports msgs/s per guarantee and the process's peak RSS.
// Usage: pnpm --filter @pulsar-connect/bench kafka-source   (needs `pnpm services up kafka pulsar`)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import kafkaSource from "@pulsar-connect/source-kafka";
import kafkajs from "kafkajs";
import { peakRssMb, revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const COUNT = Number(process.env.BENCH_COUNT ?? 200_000);
const SIZE = Number(process.env.BENCH_SIZE ?? 100);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 4);
const run = Date.now().toString(36);
const kafka = new kafkajs.Kafka({
  brokers: BROKERS,
  clientId: "bench-kafka-source",
  logLevel: kafkajs.logLevel.NOTHING,
});

async function pulsarAdmin(method: string, path: string, body?: unknown): Promise<void> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  if (response.status >= 300 && response.status !== 409) throw new Error(`${method} ${path}: ${response.status}`);
}

async function fillTopic(): Promise<string> {
  const topic = `bench-kafka-source-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  const value = Buffer.alloc(SIZE, "x");
  for (let first = 0; first < COUNT; first += 1000) {
    const count = Math.min(1000, COUNT - first);
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: count }, (_, i) => ({ key: `k${first + i}`, value })),
    });
  }
  await producer.disconnect();
  return topic;
}

async function once(topic: string, guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE"): Promise<number> {
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const resolved = resolveSourceConfig({
    name: `bench-kafka-${guarantee.toLowerCase()}`,
    archive: "builtin://kafka",
    topicName: `persistent://public/bench-kafka-${run}/${guarantee.toLowerCase()}`,
    processingGuarantees: guarantee,
    configs: { bootstrapServers: BROKERS.join(","), groupId: `bench-${guarantee}-${run}`, topic },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition: kafkaSource,
    instanceId: 0,
    pulsar: { client: client as never, adminUrl: ADMIN_URL },
  });
  const start = performance.now();
  await instance.start();
  const deadline = Date.now() + 600_000;
  while (instance.stats.written < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - start) / 1000;
  const written = instance.stats.written;
  await instance.stop();
  await client.close();
  if (written < COUNT) throw new Error(`${guarantee}: wrote ${written} of ${COUNT}`);
  return Math.round(COUNT / seconds);
}

await pulsarAdmin("PUT", `/admin/v2/namespaces/public/bench-kafka-${run}`);
await pulsarAdmin("POST", `/admin/v2/namespaces/public/bench-kafka-${run}/deduplication`, true);
const topic = await fillTopic();
const results: Record<string, number> = {};
for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
  results[guarantee] = await once(topic, guarantee);
  process.stderr.write(`${guarantee}: ${results[guarantee]} msgs/s\n`);
}
const summary = {
  benchmark: "kafka-source",
  date: new Date().toISOString(),
  revision: revision(),
  machine: `${execFileSync("nproc").toString().trim()} cores, Node ${process.version}`,
  records: COUNT,
  recordBytes: SIZE,
  kafkaPartitions: PARTITIONS,
  msgsPerSecond: results,
  peakRssMb: peakRssMb(),
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "kafka-source.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, "kafka-source.md"),
  `# Kafka -> Pulsar through the kafka source\n\n${summary.date}, ${summary.machine}, revision ${summary.revision}. ` +
    `${COUNT.toLocaleString("en")} records of ${SIZE} B in a Kafka 4.1 topic with ${PARTITIONS} partitions, one source ` +
    `instance in the benchmark process, Pulsar 4.0 standalone; timed from instance start (group join included) to the ` +
    `last send receipt.\n\n| guarantee | msgs/s |\n| --- | ---: |\n| ATLEAST_ONCE | ${results.ATLEAST_ONCE} |\n| EFFECTIVELY_ONCE (dedup on) | ${results.EFFECTIVELY_ONCE} |\n\n` +
    `Peak RSS of the process (runtime + connector + test producer): ${summary.peakRssMb} MB.\n`,
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(0);
