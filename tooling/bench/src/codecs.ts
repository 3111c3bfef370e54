// Payload codec speed: the client's LZ4 block writer and reader against lz4js 0.2.0 (the previous writer, whose
// blocks the Java client refused) and against ZSTD, ZLIB and Snappy. Payloads are batches as the source runtime
// compresses them: data-generator records in the producer's batch layout. Figures go to results/codecs.{json,md}.
//   pnpm --filter @pulsar-connect/bench codecs

import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { SourceRecord } from "@pulsar-connect/core";
import dataGenerator from "@pulsar-connect/source-data-generator";
import { appendBatchEntry } from "../../../packages/pulsar-client/src/internal/batch.ts";
import { compress, decompress } from "../../../packages/pulsar-client/src/internal/compression.ts";
import { Writer } from "../../../packages/pulsar-client/src/internal/protobuf.ts";
import { revision } from "./common.ts";

interface Lz4js {
  compressBound(n: number): number;
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}
const lz4js = createRequire(import.meta.url)("lz4js") as Lz4js;

async function records(recordType: "people" | "orders", count: number): Promise<unknown[]> {
  const signal = new AbortController().signal;
  const context = { tenant: "public", namespace: "default", name: "bench", instanceId: 0, numInstances: 1, signal };
  const reader = await dataGenerator.open(
    { recordType, ratePerSecond: 0, maxRecords: count, partitions: 1 },
    context as unknown as Parameters<typeof dataGenerator.open>[1],
  );
  const out: unknown[] = [];
  for (;;) {
    const batch = (await reader.read({ maxRecords: count, signal })) as SourceRecord[] | null;
    if (!batch || batch.length === 0) break;
    for (const r of batch) out.push(r.value);
  }
  return out;
}

/** Producer batches of `perBatch` records each (the runtime's default batch is up to 1000 messages / 128 KiB). */
function batches(values: unknown[], perBatch: number): Buffer[] {
  const out: Buffer[] = [];
  const w = new Writer(256 * 1024);
  for (let from = 0; from < values.length; from += perBatch) {
    w.reset();
    values.slice(from, from + perBatch).forEach((v, i) => {
      const payload = Buffer.from(JSON.stringify(v));
      appendBatchEntry(
        w,
        { partitionKey: String(from + i + 1), eventTime: BigInt(Date.now()), payloadSize: payload.length },
        payload,
      );
    });
    out.push(Buffer.from(w.buf.subarray(0, w.pos)));
  }
  return out;
}

interface Codec {
  name: string;
  compress(b: Buffer): Uint8Array;
  decompress(b: Uint8Array, size: number): Uint8Array;
}

const lz4jsTable = new Uint32Array(1 << 16);
const CODECS: Codec[] = [
  {
    name: "LZ4 (this client)",
    compress: (b) => compress("LZ4", b),
    decompress: (b, n) => decompress("LZ4", b, n),
  },
  {
    name: "LZ4 (lz4js 0.2.0, previous)",
    compress: (b) => {
      const dst = Buffer.allocUnsafe(lz4js.compressBound(b.length));
      lz4jsTable.fill(0);
      const size = lz4js.compressBlock(b, dst, 0, b.length, lz4jsTable);
      // lz4js gives up on incompressible input; the previous client then stored a literals-only block.
      return size === 0 ? compress("LZ4", b) : dst.subarray(0, size);
    },
    decompress: (b, n) => {
      const dst = Buffer.alloc(n);
      lz4js.decompressBlock(b, dst, 0, b.length, 0);
      return dst;
    },
  },
  ...(["ZSTD", "ZLIB", "SNAPPY"] as const).map((type) => ({
    name: type,
    compress: (b: Buffer) => compress(type, b),
    decompress: (b: Uint8Array, n: number) => decompress(type, b, n),
  })),
];

interface Row {
  codec: string;
  payload: string;
  inputMiB: number;
  ratio: number;
  compressMBps: number;
  decompressMBps: number;
}

/** Runs `fn` over all inputs for at least `minMs`, returns MB/s of their uncompressed size (`bytes` per round). */
function speed(inputs: readonly unknown[], bytes: number, fn: (i: number) => void, minMs = 1500): number {
  for (let i = 0; i < inputs.length; i++) fn(i); // warm-up
  let rounds = 0;
  const started = performance.now();
  while (performance.now() - started < minMs) {
    for (let i = 0; i < inputs.length; i++) fn(i);
    rounds++;
  }
  const seconds = (performance.now() - started) / 1000;
  return Math.round((bytes * rounds) / seconds / 1e6);
}

const sets: Array<{ label: string; inputs: Buffer[] }> = [
  { label: "orders JSON, batches of 500", inputs: batches(await records("orders", 20_000), 500) },
  { label: "people JSON, batches of 500", inputs: batches(await records("people", 20_000), 500) },
  {
    label: "random bytes, 64 KiB",
    inputs: Array.from({ length: 32 }, () => Buffer.from(crypto.getRandomValues(new Uint8Array(65536)))),
  },
];

const REPEATS = 5;
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// Codecs take turns, REPEATS times, and each figure is the median: a busy shared machine slows whichever runs when
// the load peaks, not one codec.
const rows: Row[] = [];
for (const set of sets) {
  const inBytes = set.inputs.reduce((n, b) => n + b.length, 0);
  const compressedBy = CODECS.map((codec) => set.inputs.map((b) => codec.compress(b)));
  const samples = CODECS.map(() => ({ compress: [] as number[], decompress: [] as number[] }));
  for (let r = 0; r < REPEATS; r++) {
    CODECS.forEach((codec, c) => {
      const compressed = compressedBy[c]!;
      samples[c]!.compress.push(speed(set.inputs, inBytes, (i) => codec.compress(set.inputs[i]!), 500));
      samples[c]!.decompress.push(
        speed(compressed, inBytes, (i) => codec.decompress(compressed[i]!, set.inputs[i]!.length), 500),
      );
    });
  }
  CODECS.forEach((codec, c) => {
    const outBytes = compressedBy[c]!.reduce((n, b) => n + b.length, 0);
    const row: Row = {
      codec: codec.name,
      payload: set.label,
      inputMiB: Math.round((inBytes / 1048576) * 10) / 10,
      ratio: Math.round((inBytes / outBytes) * 100) / 100,
      compressMBps: median(samples[c]!.compress),
      decompressMBps: median(samples[c]!.decompress),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  });
}

const header = `# Payload codecs\n\n${new Date().toISOString()}, revision ${revision()}, Node ${process.version}, one core of a 2-core machine (load average ${loadavg()[0]!.toFixed(1)} at the end: figures from a busy machine are low and noisy). Median of 5 alternating runs, MB/s of uncompressed bytes; ratio = uncompressed / compressed.\n\n`;
const table = [
  "| payload | codec | input MiB | ratio | compress MB/s | decompress MB/s |",
  "| --- | --- | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) => `| ${r.payload} | ${r.codec} | ${r.inputMiB} | ${r.ratio} | ${r.compressMBps} | ${r.decompressMBps} |`,
  ),
].join("\n");
const resultsDir = join(import.meta.dirname, "../results");
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, "codecs.json"), `${JSON.stringify({ revision: revision(), rows }, null, 2)}\n`);
writeFileSync(join(resultsDir, "codecs.md"), `${header}${table}\n`);
