// kafkajs vs @platformatic/kafka against the real Kafka broker from tooling/services: produce then consume
// N messages of SIZE bytes, each client on its own fresh topic. Same shape for both: batches of BATCH messages,
// IN_FLIGHT sends at once, acks=all; the consumer reads the topic from the beginning in a fresh group.
// Usage: node src/kafka-clients.ts [--messages 100000] [--size 100] [--rounds 3] [--brokers 127.0.0.1:9092]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Admin, Consumer, ProduceAcks, Producer } from "@platformatic/kafka";
import kafkajs from "kafkajs";
import { peakRssMb, revision } from "./common.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "100000" },
    size: { type: "string", default: "100" },
    rounds: { type: "string", default: "3" },
    batch: { type: "string", default: "1000" },
    inflight: { type: "string", default: "4" },
    brokers: { type: "string", default: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092" },
  },
});
const N = Number(values.messages);
const SIZE = Number(values.size);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const IN_FLIGHT = Number(values.inflight);
const BROKERS = values.brokers.split(",");
const payload = Buffer.alloc(SIZE, "x");

interface Round {
  produceMsgsPerSec: number;
  consumeMsgsPerSec: number;
}

async function inBatches(send: (from: number, count: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const from = next;
      next += BATCH;
      await send(from, Math.min(BATCH, N - from));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now()}`;
}

async function kafkajsRound(): Promise<Round> {
  const kafka = new kafkajs.Kafka({ brokers: BROKERS, clientId: "bench-kafkajs", logLevel: kafkajs.logLevel.NOTHING });
  const topic = unique("bench-kafkajs");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  const produceStart = performance.now();
  await inBatches((_, count) =>
    producer.send({ topic, acks: -1, messages: Array.from({ length: count }, () => ({ value: payload })) }),
  );
  const produceSeconds = (performance.now() - produceStart) / 1000;
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: unique("bench-kafkajs-g"), maxBytesPerPartition: 4 * 1024 * 1024 });
  const consumeStart = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let received = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        received += batch.messages.length;
        if (received >= N) resolve(performance.now());
      },
    });
  });
  const end = await done;
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  return {
    produceMsgsPerSec: Math.round(N / produceSeconds),
    consumeMsgsPerSec: Math.round(N / ((end - consumeStart) / 1000)),
  };
}

async function platformaticRound(): Promise<Round> {
  const topic = unique("bench-platformatic");
  const admin = new Admin({ clientId: "bench-platformatic", bootstrapBrokers: BROKERS });
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  const producer = new Producer({ clientId: "bench-platformatic", bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL });
  const produceStart = performance.now();
  await inBatches((_, count) =>
    producer.send({ messages: Array.from({ length: count }, () => ({ topic, value: payload })) }),
  );
  const produceSeconds = (performance.now() - produceStart) / 1000;
  await producer.close();

  const consumer = new Consumer({
    clientId: "bench-platformatic",
    groupId: unique("bench-platformatic-g"),
    bootstrapBrokers: BROKERS,
  });
  const consumeStart = performance.now();
  const stream = await consumer.consume({
    topics: [topic],
    mode: "earliest",
    autocommit: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  let received = 0;
  let end = 0;
  for await (const _message of stream) {
    received++;
    if (received >= N) {
      end = performance.now();
      break;
    }
  }
  await stream.close();
  await consumer.close(true);
  await admin.deleteTopics({ topics: [topic] });
  await admin.close();
  return {
    produceMsgsPerSec: Math.round(N / produceSeconds),
    consumeMsgsPerSec: Math.round(N / ((end - consumeStart) / 1000)),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const results: Record<string, { rounds: Round[]; median: Round }> = {};
for (const [name, round] of [
  ["kafkajs", kafkajsRound],
  ["@platformatic/kafka", platformaticRound],
] as const) {
  const rounds: Round[] = [];
  await round(); // warm-up: JIT, connections, broker page cache
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
  results[name] = {
    rounds,
    median: {
      produceMsgsPerSec: median(rounds.map((r) => r.produceMsgsPerSec)),
      consumeMsgsPerSec: median(rounds.map((r) => r.consumeMsgsPerSec)),
    },
  };
  process.stdout.write(`${name}: ${JSON.stringify(results[name]?.median)}\n`);
}

const report = {
  benchmark: "kafka-clients",
  revision: revision(),
  date: new Date().toISOString(),
  node: process.version,
  broker: "Apache Kafka 4.1 (KRaft, single node, tooling/services)",
  messages: N,
  messageBytes: SIZE,
  batch: BATCH,
  inFlight: IN_FLIGHT,
  acks: "all",
  rounds: ROUNDS,
  peakRssMb: peakRssMb(),
  results,
};
const outDir = join(import.meta.dirname, "../results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "kafka-clients.json"), `${JSON.stringify(report, null, 2)}\n`);
const rows = Object.entries(results).map(
  ([name, r]) =>
    `| ${name} | ${r.median.produceMsgsPerSec.toLocaleString("en")} | ${r.median.consumeMsgsPerSec.toLocaleString("en")} |`,
);
writeFileSync(
  join(outDir, "kafka-clients.md"),
  [
    "# Kafka clients: kafkajs vs @platformatic/kafka",
    "",
    `${N.toLocaleString("en")} messages of ${SIZE} B, one partition, batches of ${BATCH}, ${IN_FLIGHT} sends in flight, acks=all;`,
    `median of ${ROUNDS} rounds after a warm-up round. Broker: ${report.broker}. Node ${process.version}, revision ${report.revision}, ${report.date}.`,
    "",
    "| client | produce msgs/s | consume msgs/s (from connect, incl. group join) |",
    "|---|---:|---:|",
    ...rows,
    "",
  ].join("\n"),
);
