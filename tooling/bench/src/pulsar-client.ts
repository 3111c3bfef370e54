// Produce and consume throughput of @pulsar-connect/pulsar-client against the standalone broker, compared in the
// same run with the Java client's own perf tool (pulsar-perf) and with pulsar-flex.
// Usage: pnpm --filter @pulsar-connect/bench pulsar-client   (needs `pnpm services up pulsar`)
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { findJava17, repoRoot } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const CASES = [
  { size: 100, count: Number(process.env.BENCH_COUNT_100 ?? 300_000) },
  { size: 1024, count: Number(process.env.BENCH_COUNT_1K ?? 150_000) },
];

interface Row {
  client: string;
  payload: number;
  messages: number;
  produceMsgs: number | null;
  produceMB: number | null;
  consumeMsgs: number | null;
  consumeMB: number | null;
  note?: string;
}

const run = Date.now().toString(36);
const rows: Row[] = [];

function mbps(count: number, size: number, seconds: number): number {
  return (count * size) / seconds / 1e6;
}

async function ours(size: number, count: number): Promise<Row> {
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const topic = `persistent://public/default/bench-ours-${size}-${run}`;
  const payload = Buffer.alloc(size, 0x61);
  const consumer = await client.subscribe({
    topic,
    subscription: "bench",
    subscriptionType: "Exclusive",
    subscriptionInitialPosition: "Earliest",
    receiverQueueSize: 2000,
  });
  const producer = await client.createProducer({
    topic,
    batchingEnabled: true,
    batchingMaxMessages: 1000,
    batchingMaxPublishDelayMs: 10,
    maxPendingMessages: 5000,
  });
  let start = performance.now();
  const window: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i += 1) {
    window.push(producer.send({ value: payload }));
    if (window.length >= 5000) await Promise.all(window.splice(0, 2500));
  }
  await Promise.all(window);
  const produceSeconds = (performance.now() - start) / 1000;
  await producer.close();

  start = performance.now();
  for (let i = 0; i < count; i += 1) {
    const message = await consumer.receive();
    void consumer.acknowledge(message);
  }
  const consumeSeconds = (performance.now() - start) / 1000;
  await consumer.close();
  await client.close();
  return {
    client: "@pulsar-connect/pulsar-client",
    payload: size,
    messages: count,
    produceMsgs: Math.round(count / produceSeconds),
    produceMB: mbps(count, size, produceSeconds),
    consumeMsgs: Math.round(count / consumeSeconds),
    consumeMB: mbps(count, size, consumeSeconds),
  };
}

function runPerf(args: string[]): Promise<string> {
  const java = findJava17();
  const lib = join(repoRoot, ".run/jars/pulsar-perf/lib");
  const conf = join(repoRoot, ".run/bench/perf-client.conf");
  mkdirSync(join(repoRoot, ".run/bench"), { recursive: true });
  writeFileSync(conf, `webServiceUrl=${ADMIN_URL}/\nbrokerServiceUrl=${SERVICE_URL}/\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      java,
      ["-Xmx1g", "-cp", `${lib}/*`, "org.apache.pulsar.testclient.PulsarPerfTestTool", conf, ...args],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.on("error", reject);
  });
}

/** Milliseconds since midnight of a pulsar-perf log line's timestamp (`2026-11-24T10:03:56,495 - ...`). */
function stamp(line: string | undefined): number | null {
  const match = line ? /T(\d\d):(\d\d):(\d\d),(\d\d\d)/.exec(line) : null;
  if (!match) return null;
  const [, h, m, sec, ms] = match.map(Number) as [number, number, number, number, number];
  return ((h * 60 + m) * 60 + sec) * 1000 + ms;
}

/**
 * Rate between two log lines of the tool. pulsar-perf's own "Aggregated" figure divides by the whole process
 * lifetime (including its shutdown wait), so the window is taken from its log: first line matching `from` to the
 * first line matching `to`.
 */
function rateBetween(output: string, from: RegExp, to: RegExp, count: number): number | null {
  const lines = output.split("\n");
  const start = stamp(lines.find((line) => from.test(line)));
  const end = stamp(lines.find((line) => to.test(line)));
  if (start === null || end === null || end <= start) return null;
  return (count * 1000) / (end - start);
}

async function javaPerf(size: number, count: number): Promise<Row> {
  const topic = `persistent://public/default/bench-java-${size}-${run}`;
  // Same order as for this client: produce everything, then consume it from the earliest position.
  const produced = await runPerf([
    "produce",
    "-u",
    SERVICE_URL,
    "-m",
    String(count),
    "-s",
    String(size),
    "-r",
    "10000000",
    "-bm",
    "1000",
    "-b",
    "10",
    "-o",
    "5000",
    topic,
  ]);
  const consumed = await runPerf([
    "consume",
    "-u",
    SERVICE_URL,
    "-ss",
    "bench",
    "-sp",
    "Earliest",
    "-m",
    String(count),
    "-q",
    "2000",
    topic,
  ]);
  const produceMsgs = rateBetween(produced, /Created 1 producers/, /Closed Producer/, count);
  const consumeMsgs = rateBetween(consumed, /Start receiving from/, /-+ DONE -+/, count);
  const row: Row = {
    client: "pulsar-perf (Java client 4.0.8)",
    payload: size,
    messages: count,
    produceMsgs: produceMsgs === null ? null : Math.round(produceMsgs),
    produceMB: produceMsgs === null ? null : (produceMsgs * size) / 1e6,
    consumeMsgs: consumeMsgs === null ? null : Math.round(consumeMsgs),
    consumeMB: consumeMsgs === null ? null : (consumeMsgs * size) / 1e6,
  };
  if (produceMsgs === null || consumeMsgs === null)
    row.note = "could not read pulsar-perf's log (see results/pulsar-perf.log)";
  writeFileSync(join(import.meta.dirname, "../results/pulsar-perf.log"), `${produced}\n----\n${consumed}`, {
    flag: "a",
  });
  return row;
}

async function pulsarFlex(size: number, count: number): Promise<Row> {
  const row: Row = {
    client: "pulsar-flex",
    payload: size,
    messages: count,
    produceMsgs: null,
    produceMB: null,
    consumeMsgs: null,
    consumeMB: null,
  };
  try {
    const flex = ((await import("pulsar-flex")) as unknown as { default: unknown }).default as {
      Producer: new (
        options: Record<string, unknown>,
      ) => {
        create(): Promise<void>;
        sendMessage(m: Record<string, unknown>): Promise<unknown>;
        close(): Promise<void>;
      };
    };
    const producer = new flex.Producer({
      topic: `persistent://public/default/bench-flex-${size}-${run}`,
      discoveryServers: [SERVICE_URL.replace("pulsar://", "")],
      producerAccessMode: "Shared",
    });
    await Promise.race([
      producer.create(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("producer creation timed out after 20 s")), 20_000)),
    ]);
    const limit = Math.min(count, 20_000);
    const payload = Buffer.alloc(size, 0x61);
    const start = performance.now();
    const window: Array<Promise<unknown>> = [];
    for (let i = 0; i < limit; i += 1) {
      window.push(producer.sendMessage({ payload }));
      if (window.length >= 1000) await Promise.all(window.splice(0));
    }
    await Promise.race([
      Promise.all(window),
      new Promise((_, reject) => setTimeout(() => reject(new Error("sends timed out")), 120_000)),
    ]);
    const seconds = (performance.now() - start) / 1000;
    row.messages = limit;
    row.produceMsgs = Math.round(limit / seconds);
    row.produceMB = mbps(limit, size, seconds);
    row.note = `produce only, ${limit} messages`;
    await producer.close().catch(() => {});
  } catch (error) {
    row.note = `failed: ${(error as Error).message}`;
  }
  return row;
}

for (const { size, count } of CASES) {
  process.stderr.write(`payload ${size} B x ${count}\n`);
  rows.push(await ours(size, count));
  process.stderr.write(`  ours: ${JSON.stringify(rows.at(-1))}\n`);
  rows.push(await javaPerf(size, count));
  process.stderr.write(`  java: ${JSON.stringify(rows.at(-1))}\n`);
  rows.push(await pulsarFlex(size, count));
  process.stderr.write(`  flex: ${JSON.stringify(rows.at(-1))}\n`);
}

const fmt = (value: number | null, digits = 0) => (value === null ? "n/a" : value.toFixed(digits));
const table = [
  "| client | payload | messages | produce msg/s | produce MB/s | consume msg/s | consume MB/s | note |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ...rows.map(
    (r) =>
      `| ${r.client} | ${r.payload} B | ${r.messages} | ${fmt(r.produceMsgs)} | ${fmt(r.produceMB, 1)} | ${fmt(r.consumeMsgs)} | ${fmt(r.consumeMB, 1)} | ${r.note ?? ""} |`,
  ),
];
const machine = `${execFileSync("nproc").toString().trim()} cores, Node ${process.version}`;
const resultsDir = join(import.meta.dirname, "../results");
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  join(resultsDir, "pulsar-client.json"),
  `${JSON.stringify({ date: new Date().toISOString(), machine, rows }, null, 2)}\n`,
);
writeFileSync(
  join(resultsDir, "pulsar-client.md"),
  `# Pulsar client throughput\n\n${new Date().toISOString()}, ${machine}, standalone broker on loopback, batching on (1000 msgs / 10 ms).\n\n${table.join("\n")}\n`,
);
process.stdout.write(`${table.join("\n")}\n`);
// pulsar-flex leaves sockets and timers behind when it fails; do not wait for them.
process.exit(0);
