import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zlib from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { ConnectorError, loadConfig, type SinkRecord } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import avro from "avsc";
import { afterAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { freshBucket, getObject, jsonLines, listKeys, s3Client, s3proxy } from "./bucket.ts";

const client = s3Client();
const scratch = mkdtempSync(join(tmpdir(), "cloud-storage-formats-"));
afterAll(() => {
  client.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

const USER_SCHEMA = {
  type: "record",
  name: "User",
  fields: [
    { name: "id", type: "int" },
    { name: "name", type: "string" },
    { name: "score", type: "double" },
    { name: "active", type: "boolean" },
    { name: "big", type: "long" },
    { name: "tags", type: { type: "array", items: "string" } },
    { name: "note", type: ["null", "string"], default: null },
  ],
};
const userType = avro.Type.forSchema(USER_SCHEMA as avro.Schema);
const TOPIC = "persistent://public/default/users-partition-2";

function user(id: number) {
  return {
    id,
    name: `user ${id}`,
    score: id / 4,
    active: id % 2 === 0,
    big: 2 ** 40 + id,
    tags: [`t${id}`],
    note: id % 3 === 0 ? null : `note ${id}`,
  };
}

/** Records as the runtime hands them over from an AVRO topic: decoded value, Avro payload, schema. */
function avroRecords(ids: number[], firstEntryId = 0n): SinkRecord[] {
  return makeSinkRecords(
    ids.map((id) => ({ value: user(id), topicName: TOPIC, key: `k${id}`, properties: { origin: "test" } })),
    { firstEntryId, ledgerId: 17n },
  ).map((record) => ({
    ...record,
    data: userType.toBuffer(record.value),
    schema: { type: "AVRO", definition: JSON.stringify(USER_SCHEMA) },
    position: { ...record.position, topic: TOPIC },
  }));
}

async function openSink(configs: Record<string, unknown>, inputTopics = ["persistent://public/default/test-input"]) {
  const handle = createSinkContext({ inputTopics });
  const sink = await definition.open(loadConfig(definition.config, configs), handle.context);
  return { sink, handle };
}

async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const require = createRequire(import.meta.url);
const snappy = require("snappyjs") as { uncompress(data: Uint8Array): Uint8Array };

/** Reads an Avro container file with avsc's own decoder (codecs given as the Avro spec defines them). */
async function readAvro(bytes: Buffer): Promise<{ schema: unknown; records: Record<string, unknown>[] }> {
  const file = join(scratch, `${Math.random().toString(36).slice(2)}.avro`);
  writeFileSync(file, bytes);
  const records: Record<string, unknown>[] = [];
  let schema: unknown;
  await new Promise<void>((resolve, reject) => {
    avro
      .createFileDecoder(file, {
        codecs: {
          null: (data: Buffer, cb: (error: Error | null, data?: Buffer) => void) => cb(null, data),
          deflate: (data: Buffer, cb: (error: Error | null, data?: Buffer) => void) => zlib.inflateRaw(data, cb),
          snappy: (data: Buffer, cb: (error: Error | null, data?: Buffer) => void) => {
            const out = Buffer.from(snappy.uncompress(data.subarray(0, data.length - 4)));
            const crc = data.readUInt32BE(data.length - 4);
            cb(zlib.crc32(out) >>> 0 === crc ? null : new Error("snappy block CRC mismatch"), out);
          },
          zstandard: (data: Buffer, cb: (error: Error | null, data?: Buffer) => void) =>
            cb(null, (zlib as unknown as { zstdDecompressSync(d: Buffer): Buffer }).zstdDecompressSync(data)),
        } as never,
      })
      .on("metadata", (type: avro.Type) => {
        schema = type.schema();
      })
      .on("data", (record: Record<string, unknown>) => records.push(record))
      .on("end", () => resolve())
      .on("error", reject);
  });
  return { schema, records };
}

describe("cloud-storage sink: files read back by independent readers", () => {
  it("writes Parquet from the topic's Avro schema that DuckDB reads back, metadata column included", async () => {
    const configs = await freshBucket(client, {
      formatType: "parquet",
      parquetCodec: "zstd",
      batchSize: 1000,
      withMetadata: true,
      useHumanReadableMessageId: true,
      includeTopicToMetadata: true,
      includeMessageKeyToMetadata: true,
    });
    const { sink } = await openSink(configs);
    const ids = Array.from({ length: 25 }, (_, i) => i);
    expect(await sink.write(avroRecords(ids))).toEqual({ failed: [] });
    await sink.close();
    const keys = await listKeys(client, configs.bucket as string);
    expect(keys).toEqual(["public/default/users-partition-2/17.0_17.24.parquet"]);
    const file = join(scratch, "users.parquet");
    writeFileSync(file, await getObject(client, configs.bucket as string, keys[0] as string));
    const columns = await duckRows(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
    expect(Object.fromEntries(columns.map((c) => [c.column_name, c.column_type]))).toMatchObject({
      id: "INTEGER",
      name: "VARCHAR",
      score: "DOUBLE",
      active: "BOOLEAN",
      big: "BIGINT",
      note: "VARCHAR",
    });
    const rows = await duckRows(`SELECT * FROM read_parquet('${file}') ORDER BY id`);
    expect(rows).toHaveLength(25);
    rows.forEach((row, id) => {
      const expected = user(id);
      expect(row).toMatchObject({
        id,
        name: expected.name,
        score: expected.score,
        active: expected.active,
        big: BigInt(expected.big),
        note: expected.note,
      });
      expect(JSON.parse(String(row.tags))).toEqual(expected.tags);
      expect(JSON.parse(String(row.__message_metadata__))).toMatchObject({
        messageId: `17:${id}:2:-1`,
        properties: { origin: "test" },
        topic: TOPIC,
        key: `k${id}`,
      });
    });
  });

  it.each(["snappy", "deflate", "zstandard", "none"])(
    "writes Avro container files (%s codec) that avsc reads back",
    async (codec) => {
      const configs = await freshBucket(client, {
        formatType: "avro",
        avroCodec: codec,
        batchSize: 1000,
        withMetadata: codec === "deflate",
      });
      const { sink } = await openSink(configs);
      await sink.write(avroRecords([0, 1, 2, 3, 4, 5, 6]));
      await sink.close();
      const keys = await listKeys(client, configs.bucket as string);
      expect(keys).toEqual(["public/default/users-partition-2/17.0_17.6.avro"]);
      const { records } = await readAvro(await getObject(client, configs.bucket as string, keys[0] as string));
      expect(records.map((record) => record.id)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect({ ...records[5] }).toMatchObject({ ...user(5) });
      if (codec === "deflate")
        expect(records[3]?.__message_metadata__).toMatchObject({ properties: { origin: "test" } });
    },
  );

  it("cuts objects by batchSize and maxBatchBytes, named by their first and last positions", async () => {
    const configs = await freshBucket(client, { batchSize: 3, pathPrefix: "archive/" });
    const { sink } = await openSink(configs);
    await sink.write(
      makeSinkRecords(
        Array.from({ length: 7 }, (_, id) => ({ value: { id } })),
        { ledgerId: 5n },
      ),
    );
    await sink.close();
    expect(await listKeys(client, configs.bucket as string)).toEqual([
      "archive/public/default/test-input/5.0_5.2.json",
      "archive/public/default/test-input/5.3_5.5.json",
      "archive/public/default/test-input/5.6_5.6.json",
    ]);
    const bySize = await freshBucket(client, { batchSize: 100, maxBatchBytes: 20 });
    const second = await openSink(bySize);
    // Each payload is 8 bytes ({"id":N}): two fit under 20 bytes.
    await second.sink.write(
      makeSinkRecords(
        Array.from({ length: 5 }, (_, id) => ({ value: { id } })),
        { ledgerId: 6n },
      ),
    );
    await second.sink.close();
    expect(await listKeys(client, bySize.bucket as string)).toEqual([
      "public/default/test-input/6.0_6.1.json",
      "public/default/test-input/6.2_6.3.json",
      "public/default/test-input/6.4_6.4.json",
    ]);
  });

  it("rewrites the same object when the same records come again, and reports the last position", async () => {
    const configs = await freshBucket(client, { batchSize: 10 });
    const { sink } = await openSink(configs);
    const records = makeSinkRecords(
      Array.from({ length: 4 }, (_, id) => ({ value: { id } })),
      { ledgerId: 9n, firstEntryId: 10n },
    );
    await sink.write(records);
    await sink.write(records);
    expect(await listKeys(client, configs.bucket as string)).toEqual(["public/default/test-input/9.10_9.13.json"]);
    expect(await jsonLines(client, configs.bucket as string)).toEqual([{ id: 0 }, { id: 1 }, { id: 2 }, { id: 3 }]);
    expect(await sink.storedPositions?.()).toEqual([
      { topic: "persistent://public/default/test-input", ledgerId: 9n, entryId: 13n, batchIndex: -1 },
    ]);
    await sink.close();
  });

  it("puts objects in time folders by event time, else publish time", async () => {
    const configs = await freshBucket(client, {
      partitionerType: "time",
      timePartitionPattern: "yyyy/MM/dd/HH",
      timePartitionDuration: "1h",
      compression: "gzip",
    });
    const { sink } = await openSink(configs);
    const at = Date.UTC(2026, 0, 2, 3, 45);
    const records = makeSinkRecords([
      { value: { id: 0 }, eventTime: at },
      { value: { id: 1 }, eventTime: at + 60 * 60_000 },
      { value: { id: 2 } },
    ]);
    (records[2] as SinkRecord).publishTime = at + 5 * 60_000;
    await sink.write(records);
    await sink.close();
    expect(await listKeys(client, configs.bucket as string)).toEqual([
      "public/default/test-input/2026/01/02/03/1.0_1.0.json.gz",
      "public/default/test-input/2026/01/02/03/1.2_1.2.json.gz",
      "public/default/test-input/2026/01/02/04/1.1_1.1.json.gz",
    ]);
    expect(await jsonLines(client, configs.bucket as string)).toHaveLength(3);
  });

  it("writes zstd JSON lines and raw bytes with the separator", async () => {
    const configs = await freshBucket(client, { compression: "zstd", batchSize: 10 });
    const { sink } = await openSink(configs);
    await sink.write(makeSinkRecords([{ value: { a: 1 } }, { value: { a: 2 } }]));
    await sink.close();
    const [key] = await listKeys(client, configs.bucket as string);
    expect(key).toBe("public/default/test-input/1.0_1.1.json.zst");
    const text = (zlib as unknown as { zstdDecompressSync(d: Buffer): Buffer })
      .zstdDecompressSync(await getObject(client, configs.bucket as string, key as string))
      .toString();
    expect(text).toBe('{"a":1}\n{"a":2}\n');

    const raw = await freshBucket(client, { formatType: "bytes", bytesFormatTypeSeparator: "0x0a" });
    const second = await openSink(raw);
    await second.sink.write(makeSinkRecords([{ value: "one" }, { value: "two" }]));
    await second.sink.close();
    const [rawKey] = await listKeys(client, raw.bucket as string);
    expect((await getObject(client, raw.bucket as string, rawKey as string)).toString()).toBe("one\ntwo");
  });

  it("fails, or skips when asked, a record the format cannot hold", async () => {
    const configs = await freshBucket(client, { formatType: "parquet" });
    const { sink } = await openSink(configs);
    const records = [
      ...avroRecords([0]),
      ...makeSinkRecords([{ value: { id: 1 } }], { firstEntryId: 1n, ledgerId: 17n }),
    ];
    const outcome = await sink.write(records);
    expect(outcome?.failed.map((f) => f.index)).toEqual([1]);
    expect(outcome?.failed[0]?.error).toMatchObject({ code: "INVALID_RECORD", retryable: false });
    await sink.close();
    const skipping = await openSink({ ...configs, skipFailedMessages: true });
    expect(await skipping.sink.write(records)).toEqual({ failed: [] });
    expect(skipping.handle.metrics).toContainEqual({ name: "records_skipped", value: 1 });
    await skipping.sink.close();
  });

  it("says why it cannot start: missing bucket, wrong secret, unreachable endpoint", async () => {
    const server = s3proxy();
    const base = {
      provider: "aws-s3",
      endpoint: server.endpoint,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
    };
    const open = (configs: Record<string, unknown>) =>
      definition.open(loadConfig(definition.config, configs), createSinkContext().context).then(
        () => undefined,
        (error: unknown) => error as ConnectorError,
      );
    const missing = await open({ ...base, bucket: "no-such-bucket-here" });
    expect(missing).toBeInstanceOf(ConnectorError);
    expect(missing).toMatchObject({ code: "NOT_FOUND", retryable: true });
    expect(missing?.message).toContain("no-such-bucket-here");
    const { bucket } = await freshBucket(client);
    expect(await open({ ...base, bucket, secretAccessKey: "wrong" })).toMatchObject({
      code: "AUTH_FAILED",
      retryable: false,
    });
    // Nothing listens on the last port of this project's range.
    expect(await open({ ...base, bucket, endpoint: "http://127.0.0.1:7699" })).toMatchObject({
      code: "CONNECTION_FAILED",
      retryable: true,
    });
  });
});
