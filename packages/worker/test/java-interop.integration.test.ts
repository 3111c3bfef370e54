// Interop with Apache Pulsar's Java client through a worker process started as a user starts it (the CLI's
// `worker` command), both directions, one JVM per direction:
// - data-generator sources (people, orders) at every codec, batching on and off, with and without a declared JSON
//   schema -> the Java client reads everything: count, content, keys, event time, properties, schema version. Among
//   them the orders/LZ4 scenario of the source runtime's defaults, 30,000 records read whole.
// - the Java client produces codecs x batching x chunking x schemas (BYTES, STRING, JSON, AVRO, KeyValue INLINE and
//   SEPARATED) with keys, properties and event times, on partitioned topics when batching -> one sink of the worker
//   (the record-sink fixture) receives every message once with its content and metadata.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zlib from "node:zlib";
import { partitionForKey } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { order, person } from "../../../connectors/source-data-generator/src/internal/records.ts";
import { interop } from "../../pulsar-client/test/java-helper.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { http, linesOf, until } from "./helpers.ts";

const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const BIN = join(import.meta.dirname, "..", "..", "cli", "bin", "pulsar-connect.js");
const run = `ji${Date.now().toString(36)}`;
const CODECS = ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"] as const;

let host: string;
let dataDir: string;
let worker: ChildProcess | undefined;
let workerExit: Promise<unknown>;
let workerUrl = "";
let workerLogs = "";

beforeAll(async () => {
  host = fixtureHost();
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-java-interop-"));
  const config = join(dataDir, "worker.yaml");
  writeFileSync(config, `pulsarServiceUrl: ${serviceUrl}\npulsarAdminUrl: ${adminUrl}\n`);
  // The fixture host brings the record sink; the worker package's own folder brings data-generator.
  worker = spawn(
    process.execPath,
    [
      BIN,
      "worker",
      "--config",
      config,
      "--port",
      "0",
      "--data-dir",
      join(dataDir, "store"),
      "--connectors-dir",
      host,
      join(import.meta.dirname, ".."),
    ],
    { env: { ...process.env } },
  );
  worker.stdout?.on("data", (chunk) => {
    workerLogs += chunk;
  });
  worker.stderr?.on("data", (chunk) => {
    workerLogs += chunk;
  });
  const child = worker;
  workerExit = new Promise((done) => child.on("exit", done));
  await until(() => workerLogs.includes('"msg":"worker started"'), 60_000, "worker started");
  const url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"worker started"/.exec(workerLogs);
  if (!url?.[1]) throw new Error(`the worker did not log its URL: ${workerLogs.slice(-2000)}`);
  workerUrl = url[1];
}, 90_000);

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill("SIGTERM");
    await workerExit;
  }
  rmSync(host, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await http(adminUrl, method, path, body);
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.text}`);
  return answer.json;
}

/** Submits a connector to the worker; the answer must be 204. */
async function submit(kind: "sources" | "sinks", name: string, config: Record<string, unknown>): Promise<void> {
  const answer = await http(workerUrl, "POST", `/admin/v3/${kind}/public/default/${name}`, config);
  if (answer.status !== 204) throw new Error(`${kind} ${name}: ${answer.status} ${answer.text}`);
}

interface SourceCell {
  recordType: "people" | "orders";
  codec: (typeof CODECS)[number] | undefined;
  batching: boolean | undefined;
  schemaType: "JSON" | undefined;
  count: number;
  name: string;
  /** Partitions of the output topic (created before the source starts); 0 = not partitioned. */
  partitions?: number;
}

function label(cell: SourceCell): string {
  return `${cell.recordType}/${cell.codec ?? "default codec"}/${cell.batching === false ? "single" : "batch"}/${cell.schemaType ?? "no schemaType"}${cell.partitions ? `/${cell.partitions} partitions` : ""}`;
}

describe("Java interop through a worker process", () => {
  it("the Java client reads everything data-generator sources wrote, at every codec and batching", async () => {
    const cells: SourceCell[] = [];
    for (const codec of CODECS) {
      for (const batching of [true, false]) {
        for (const recordType of ["people", "orders"] as const) {
          const name = `${run}-${recordType}-${codec}-${batching ? "b" : "nb"}`.toLowerCase();
          cells.push({ recordType, codec, batching, schemaType: "JSON", count: 150, name });
        }
      }
    }
    // The scenario as reported: everything default (LZ4, batching on, no declared schema), 30,000 orders.
    cells.push({
      recordType: "orders",
      codec: undefined,
      batching: undefined,
      schemaType: undefined,
      count: 30_000,
      name: `${run}-orders-defaults`,
    });
    for (const codec of ["LZ4", "ZSTD"] as const) {
      const name = `${run}-people-${codec}-partitioned`.toLowerCase();
      cells.push({ recordType: "people", codec, batching: true, schemaType: "JSON", count: 300, name, partitions: 3 });
    }
    await Promise.all(
      cells
        .filter((c) => c.partitions)
        .map((c) => admin("PUT", `/admin/v2/persistent/public/default/${c.name}/partitions`, c.partitions)),
    );
    const startedAt = Date.now();
    await Promise.all(
      cells.map((cell) => {
        const producerConfig: Record<string, unknown> = {};
        if (cell.codec) producerConfig.compressionType = cell.codec;
        if (cell.batching === false) producerConfig.batchingConfig = { enabled: false };
        const config: Record<string, unknown> = {
          sourceType: "data-generator",
          topicName: cell.name,
          configs: { recordType: cell.recordType, maxRecords: cell.count, ratePerSecond: 0 },
        };
        if (Object.keys(producerConfig).length > 0) config.producerConfig = producerConfig;
        if (cell.schemaType) config.schemaType = cell.schemaType;
        return submit("sources", cell.name, config);
      }),
    );
    const written = async (cell: SourceCell) =>
      (await http(workerUrl, "GET", `/admin/v3/sources/public/default/${cell.name}/0/status`)).json?.numWritten;
    for (const cell of cells) {
      await until(async () => (await written(cell)) === cell.count, 120_000, `${label(cell)}: ${cell.count} written`);
    }
    const endedAt = Date.now();
    const rows = await interop(
      "records-consume",
      ...cells.map((c) => `persistent://public/default/${c.name}|${c.count}`),
    );

    const problems: string[] = [];
    let messages = 0;
    for (const cell of cells) {
      const topic = `persistent://public/default/${cell.name}`;
      const mine = rows.filter((row) => row[1] === topic);
      if (mine.length !== cell.count) problems.push(`${label(cell)}: Java read ${mine.length} of ${cell.count}`);
      let latest: bigint | undefined;
      if (cell.schemaType) {
        const info = (await admin("GET", `/admin/v2/schemas/public/default/${cell.name}/schema`)) as {
          version: number;
        };
        latest = BigInt(info.version);
      }
      const ids = new Set<number>();
      const partitions = new Set<number>();
      for (const [, , key, props, eventTime, schemaType, version, data, partition] of mine) {
        const id = Number(key);
        ids.add(id);
        const value = JSON.parse(Buffer.from(data ?? "", "base64").toString("utf8")) as unknown;
        const want = cell.recordType === "orders" ? order(id) : person(id);
        const time = Number(eventTime);
        const wantSchema = cell.schemaType ?? "BYTES";
        const wantVersion = latest === undefined ? undefined : latest;
        const gotVersion = version ? BigInt(`0x${version}`) : undefined;
        // The runtime's producer routes by key with the Java client's default router.
        const wantPartition = cell.partitions ? partitionForKey(key ?? "", cell.partitions, "JavaStringHash") : -1;
        partitions.add(Number(partition));
        const fine =
          JSON.stringify(value) === JSON.stringify(want) &&
          props === "" &&
          time >= startedAt &&
          time <= endedAt &&
          schemaType === wantSchema &&
          Number(partition) === wantPartition &&
          (wantVersion === undefined || gotVersion === wantVersion);
        if (!fine) {
          problems.push(
            `${label(cell)} key ${key}: ${JSON.stringify({ value, props, eventTime, schemaType, version, partition })}, want ${JSON.stringify(want)} ${wantSchema} v${wantVersion}`,
          );
        }
        messages++;
      }
      if (cell.partitions && partitions.size !== cell.partitions) {
        problems.push(`${label(cell)}: partitions ${[...partitions]} of ${cell.partitions}`);
      }
      if (ids.size !== cell.count || Math.min(...ids) !== 1 || Math.max(...ids) !== cell.count) {
        problems.push(`${label(cell)}: ${ids.size} distinct keys of ${cell.count}`);
      }
    }
    console.log(`data-generator -> Java: ${cells.length} cells, ${messages} messages checked`);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(messages).toBe(cells.reduce((n, c) => n + c.count, 0));
  }, 240_000);

  it("a worker sink receives every message the Java client produced, once, with its content and metadata", async () => {
    type Schema = "BYTES" | "STRING" | "JSON" | "AVRO" | "KV_INLINE" | "KV_SEPARATED";
    const SCHEMAS: Schema[] = ["BYTES", "STRING", "JSON", "AVRO", "KV_INLINE", "KV_SEPARATED"];
    interface Cell {
      topic: string;
      codec: string;
      batching: boolean;
      chunking: boolean;
      schema: Schema;
      count: number;
    }
    const cells: Cell[] = [];
    for (const codec of CODECS) {
      for (const batching of [true, false]) {
        for (const schema of SCHEMAS) {
          const topic = `${run}-in-${codec}-${batching ? "b" : "nb"}-${schema}`.toLowerCase();
          cells.push({ topic, codec, batching, chunking: false, schema, count: 20 });
        }
      }
      cells.push({
        topic: `${run}-in-${codec}-chunked`.toLowerCase(),
        codec,
        batching: false,
        chunking: true,
        schema: "BYTES",
        count: 3,
      });
    }
    // Batching cells go to partitioned topics (3 partitions): the sink reads the partitions as one input.
    await Promise.all(
      cells
        .filter((c) => c.batching)
        .map((c) => admin("PUT", `/admin/v2/persistent/public/default/${c.topic}/partitions`, 3)),
    );
    const produced = await interop(
      "matrix-produce",
      ...cells.map((c) =>
        [`persistent://public/default/${c.topic}`, c.codec, c.batching, c.chunking, c.schema, c.count].join("|"),
      ),
    );
    expect(produced.length).toBe(cells.length);

    const out = join(dataDir, "records.jsonl");
    await submit("sinks", `${run}-records`, {
      archive: "builtin://test-records",
      inputs: cells.map((c) => c.topic),
      sourceSubscriptionPosition: "Earliest",
      configs: { path: out },
    });
    const total = cells.reduce((n, c) => n + c.count, 0);
    await until(() => linesOf(out).length >= total, 120_000, `${total} records in the sink`);
    // Anything beyond the total would be a duplicate: give a late one the time to show up.
    await until(
      async () =>
        (await http(workerUrl, "GET", `/admin/v3/sinks/public/default/${run}-records/0/status`)).json
          ?.numWrittenToSink >= total,
      30_000,
      "sink status",
    );

    interface Line {
      topic: string;
      key?: string;
      properties: Record<string, string>;
      eventTime?: number;
      schemaType?: string;
      value: unknown;
      bytes: number;
      crc32: number;
    }
    const lines = linesOf(out).map((line) => JSON.parse(line) as Line);
    const byTopic = new Map<string, Line[]>();
    for (const line of lines) {
      const topic = line.topic.replace(/^persistent:\/\/public\/default\//, "").replace(/-partition-\d+$/, "");
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), line]);
    }
    const int32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const payload = (cell: Cell, i: number): Buffer => {
      switch (cell.schema) {
        case "BYTES":
          return cell.chunking ? bigValue(i, 250_000) : Buffer.from(`bytes-${i}`);
        case "STRING":
          return Buffer.from(`string-${i}`);
        case "JSON":
          return Buffer.from(JSON.stringify({ id: i, name: `name-${i}` }));
        case "AVRO":
          return Buffer.concat([zigzag(i), zigzag(1), zigzag(`name-${i}`.length), Buffer.from(`name-${i}`)]);
        case "KV_INLINE": {
          const key = Buffer.from(`kvkey-${i}`);
          return Buffer.concat([int32(key.length), key, int32(4), int32(i)]);
        }
        case "KV_SEPARATED":
          return int32(i);
      }
    };
    const decoded = (cell: Cell, i: number): unknown => {
      const data = payload(cell, i);
      switch (cell.schema) {
        case "STRING":
          return `string-${i}`;
        case "JSON":
        case "AVRO":
          return { id: i, name: `name-${i}` };
        // KeyValue<STRING, INT32>: the key decoded, the INT32 value handed over as its 4 bytes.
        case "KV_INLINE":
          return { key: `kvkey-${i}`, value: { bytes: 4, crc32: zlib.crc32(int32(i)) } };
        case "KV_SEPARATED":
          return { key: `k${i % 5}`, value: { bytes: 4, crc32: zlib.crc32(int32(i)) } };
        default:
          return { bytes: data.length, crc32: zlib.crc32(data) };
      }
    };
    const problems: string[] = [];
    for (const cell of cells) {
      const what = `${cell.codec}/${cell.batching ? "batch" : "single"}/${cell.chunking ? "chunked/" : ""}${cell.schema}`;
      const mine = byTopic.get(cell.topic) ?? [];
      if (mine.length !== cell.count) problems.push(`${what}: ${mine.length} records of ${cell.count}`);
      const seen = new Set<number>();
      for (const line of mine) {
        const i = Number(line.properties.i);
        if (seen.has(i)) problems.push(`${what}: message ${i} twice`);
        seen.add(i);
        const data = payload(cell, i);
        const key = cell.schema === "KV_SEPARATED" ? Buffer.from(`k${i % 5}`).toString("base64") : `k${i % 5}`;
        const got = {
          schemaType: line.schemaType,
          key: line.key,
          properties: line.properties,
          eventTime: line.eventTime,
          value: line.value,
          bytes: line.bytes,
          crc32: line.crc32,
        };
        const want = {
          // No schema for a topic without one; KeyValue topics hand over { key, value } (and the message key as
          // sent, base64 under SEPARATED).
          schemaType: cell.schema === "BYTES" ? undefined : cell.schema.startsWith("KV_") ? "KEY_VALUE" : cell.schema,
          key,
          properties: { i: String(i) },
          eventTime: 1000 + i,
          value: decoded(cell, i),
          bytes: data.length,
          crc32: zlib.crc32(data),
        };
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          problems.push(`${what} message ${i}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        }
      }
    }
    console.log(`Java -> worker sink: ${cells.length} cells, ${lines.length} records checked`);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(lines.length).toBe(total);
  }, 240_000);
});

/** Same generator as Interop.bigValue: incompressible, so the message is really chunked. */
function bigValue(i: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = i + 1;
  for (let j = 0; j < size; j++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    out[j] = (x >>> 16) & 0xff;
  }
  return out;
}

/** Avro's zig-zag varint of a long (small values only), or a string's length prefix. */
function zigzag(value: number | string): Buffer {
  if (typeof value === "string") return Buffer.from(value);
  let n = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
