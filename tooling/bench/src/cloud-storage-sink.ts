// Cloud-storage sink throughput per format against S3Proxy (filesystem backend, started by tooling/services): records
// and payload MB per second through the sink's write (encode + upload), against a reference measured in the same
// run: raw PUTs of the same payload bytes, one object per batch, with the same S3 client settings. Figures go to
// results/cloud-storage-sink.{json,md}.
//   pnpm --filter @pulsar-connect/bench cloud-storage-sink

import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { loadConfig, type SinkContext, type SinkRecord } from "@pulsar-connect/core";
import cloudStorage from "@pulsar-connect/sink-cloud-storage";
import avro from "avsc";
import { ensureServices } from "../../services/src/index.ts";
import { revision } from "./common.ts";

const RECORDS = 20_000;
const PER_OBJECT = 5_000;
const ROUNDS = 5;
const TOPIC = "persistent://public/default/bench-orders";

const SCHEMA = {
  type: "record",
  name: "Order",
  fields: [
    { name: "id", type: "long" },
    { name: "customer", type: "string" },
    { name: "sku", type: "string" },
    { name: "quantity", type: "int" },
    { name: "price", type: "double" },
    { name: "paid", type: "boolean" },
    { name: "note", type: ["null", "string"], default: null },
  ],
};
const orderType = avro.Type.forSchema(SCHEMA as avro.Schema);

function records(): SinkRecord[] {
  return Array.from({ length: RECORDS }, (_, i) => {
    const value = {
      id: i,
      customer: `customer-${i % 997}`,
      sku: `SKU-${(i * 7919) % 5000}`,
      quantity: 1 + (i % 9),
      price: Math.round(((i * 31) % 10_000) + 99) / 100,
      paid: i % 4 !== 0,
      note: i % 5 === 0 ? null : `deliver after ${i % 24}:00`,
    };
    return {
      value,
      data: orderType.toBuffer(value),
      properties: {},
      publishTime: 1_780_000_000_000 + i,
      topicName: TOPIC,
      position: { topic: TOPIC, ledgerId: 42n, entryId: BigInt(i), batchIndex: -1 },
      messageId: `42:${i}:-1:-1`,
      redeliveryCount: 0,
      schema: { type: "AVRO", definition: JSON.stringify(SCHEMA) },
    };
  });
}

const noop = () => {};
const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
let bytesWritten = 0;
const context = {
  tenant: "public",
  namespace: "default",
  name: "bench",
  instanceId: 0,
  numInstances: 1,
  logger,
  signal: new AbortController().signal,
  recordMetric: (name: string, value: number) => {
    if (name === "bytes_written") bytesWritten += value;
  },
  inputTopics: [TOPIC],
  subscriptionType: "Failover",
  processingGuarantee: "EFFECTIVELY_ONCE",
} as unknown as SinkContext;

const FORMATS: Array<{ label: string; configs: Record<string, unknown> }> = [
  { label: "json", configs: { formatType: "json" } },
  { label: "json + gzip", configs: { formatType: "json", compression: "gzip" } },
  { label: "json + zstd", configs: { formatType: "json", compression: "zstd" } },
  { label: "avro (snappy)", configs: { formatType: "avro", avroCodec: "snappy" } },
  { label: "avro (zstandard)", configs: { formatType: "avro", avroCodec: "zstandard" } },
  { label: "parquet (gzip)", configs: { formatType: "parquet", parquetCodec: "gzip" } },
  { label: "parquet (snappy)", configs: { formatType: "parquet", parquetCodec: "snappy" } },
  { label: "parquet (zstd)", configs: { formatType: "parquet", parquetCodec: "zstd" } },
  { label: "bytes", configs: { formatType: "bytes" } },
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const { s3proxy } = await ensureServices(["s3proxy"]);
  const client = new S3Client({
    endpoint: s3proxy.endpoint,
    region: s3proxy.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3proxy.accessKeyId, secretAccessKey: s3proxy.secretAccessKey },
  });
  const input = records();
  const payloadBytes = input.reduce((sum, record) => sum + record.data.length, 0);
  const batches = Array.from({ length: RECORDS / PER_OBJECT }, (_, i) =>
    input.slice(i * PER_OBJECT, (i + 1) * PER_OBJECT),
  );
  const base = {
    provider: "aws-s3",
    endpoint: s3proxy.endpoint,
    region: s3proxy.region,
    accessKeyId: s3proxy.accessKeyId,
    secretAccessKey: s3proxy.secretAccessKey,
    batchSize: PER_OBJECT,
    maxBatchBytes: 1 << 30,
  };
  const timings = new Map<string, number[]>();
  const objectBytes = new Map<string, number>();
  // Round 0 warms up the JIT and the connections and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    const bucket = `bench-${Date.now().toString(36)}-${round}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    // Reference: the raw payload bytes of each batch, one PUT per batch.
    let begun = performance.now();
    for (const [i, batch] of batches.entries()) {
      const body = Buffer.concat(batch.map((record) => record.data));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${round}/${i}.bin`, Body: body }));
    }
    if (round > 0)
      timings.set("raw PUT (reference)", [...(timings.get("raw PUT (reference)") ?? []), performance.now() - begun]);
    for (const format of FORMATS) {
      const sink = await cloudStorage.open(
        loadConfig(cloudStorage.config, {
          ...base,
          ...format.configs,
          bucket,
          pathPrefix: `${format.label.replace(/\W+/g, "-")}/`,
        }),
        context,
      );
      bytesWritten = 0;
      begun = performance.now();
      for (const batch of batches) await sink.write(batch);
      const ms = performance.now() - begun;
      await sink.close();
      if (round > 0) timings.set(format.label, [...(timings.get(format.label) ?? []), ms]);
      objectBytes.set(format.label, bytesWritten);
    }
  }
  client.destroy();
  objectBytes.set("raw PUT (reference)", payloadBytes);

  const referenceMs = median(timings.get("raw PUT (reference)") ?? []);
  const rows = [...timings.entries()].map(([label, values]) => {
    const ms = median(values);
    return {
      format: label,
      ms: Math.round(ms),
      recordsPerSecond: Math.round(RECORDS / (ms / 1000)),
      payloadMBps: Number((payloadBytes / 1e6 / (ms / 1000)).toFixed(1)),
      objectMB: Number(((objectBytes.get(label) ?? 0) / 1e6).toFixed(2)),
      vsRawPut: Number((referenceMs / ms).toFixed(2)),
    };
  });
  const result = {
    at: new Date().toISOString(),
    revision: revision(),
    node: process.version,
    records: RECORDS,
    recordsPerObject: PER_OBJECT,
    payloadMB: Number((payloadBytes / 1e6).toFixed(2)),
    rounds: ROUNDS,
    loadAverageAtEnd: Number(loadavg()[0]?.toFixed(1)),
    rows,
  };
  const dir = join(import.meta.dirname, "../results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cloud-storage-sink.json"), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    "# Cloud-storage sink",
    "",
    `${result.at}, revision ${result.revision}, Node ${result.node}, S3Proxy 4.1.0 (filesystem backend) on loopback, a 2-core machine shared with other work (load average ${result.loadAverageAtEnd} at the end: figures from a busy machine are low and noisy). ${RECORDS} Avro-schema order records (${result.payloadMB} MB of Avro payload), ${PER_OBJECT} records per object, median of ${ROUNDS} rounds after a warm-up round. Each write encodes the objects and uploads them; MB/s counts payload bytes in. vs raw PUT = time of PUTting the same payload bytes as one object per batch / time of the format (1 = as fast as a bare upload).`,
    "",
    "| format | ms | records/s | payload MB/s | object MB | vs raw PUT |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) => `| ${r.format} | ${r.ms} | ${r.recordsPerSecond} | ${r.payloadMBps} | ${r.objectMB} | ${r.vsRawPut} |`,
    ),
    "",
  ].join("\n");
  writeFileSync(join(dir, "cloud-storage-sink.md"), md);
  console.log(md);
}

await main();
