// Interop matrix with Apache Pulsar's Java client, both directions: codecs x batching on/off x chunking x schemas
// (BYTES, STRING, JSON, AVRO, KeyValue INLINE and SEPARATED) with keys, properties, event times, ordering keys, on
// partitioned (batching on) and unpartitioned (batching off) topics. Counts, content, metadata, per-key order and
// schema versions must match exactly. One JVM per direction runs every cell.
import zlib from "node:zlib";
import avro from "avsc";
import { afterAll, describe, expect, it } from "vitest";
import { type CompressionType, keyValueSchema, type Message, type SchemaInfo } from "../src/index.ts";
import { newAdmin, newClient, uniqueTopic } from "./helpers.ts";
import { interop } from "./java-helper.ts";

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

type SchemaKind = "BYTES" | "STRING" | "JSON" | "AVRO" | "KV_INLINE" | "KV_SEPARATED";
const CODECS: CompressionType[] = ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"];
const SCHEMAS: SchemaKind[] = ["BYTES", "STRING", "JSON", "AVRO", "KV_INLINE", "KV_SEPARATED"];
const COUNT = 20;
const CHUNKED_COUNT = 3;
const CHUNKED_SIZE = 250_000;
const PARTITIONS = 3;

interface Cell {
  codec: CompressionType;
  batching: boolean;
  chunking: boolean;
  schema: SchemaKind;
  partitions: number;
  count: number;
  topic: string;
}

function cells(prefix: string, schemas: readonly SchemaKind[]): Cell[] {
  const out: Cell[] = [];
  for (const codec of CODECS) {
    for (const batching of [true, false]) {
      for (const schema of schemas) {
        const partitions = batching ? PARTITIONS : 0;
        const topic = uniqueTopic(`${prefix}-${codec}-${batching ? "b" : "nb"}-${schema}`.toLowerCase());
        out.push({ codec, batching, chunking: false, schema, partitions, count: COUNT, topic });
      }
    }
    const topic = uniqueTopic(`${prefix}-${codec}-chunked`.toLowerCase());
    out.push({ codec, batching: false, chunking: true, schema: "BYTES", partitions: 0, count: CHUNKED_COUNT, topic });
  }
  return out;
}

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

const USER_AVRO = {
  type: "record",
  name: "User",
  fields: [
    { name: "id", type: "long" },
    { name: "name", type: ["null", "string"], default: null },
  ],
};
const userType = avro.Type.forSchema(USER_AVRO as avro.Schema);

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

const STRING_SCHEMA: SchemaInfo = { type: "STRING", name: "String" };
const INT32_SCHEMA: SchemaInfo = { type: "INT32", name: "INT32" };

const SCHEMA_INFO: Record<SchemaKind, SchemaInfo> = {
  BYTES: { type: "BYTES" },
  STRING: STRING_SCHEMA,
  JSON: { type: "JSON", name: "User", schema: JSON.stringify(USER_AVRO) },
  AVRO: { type: "AVRO", name: "User", schema: JSON.stringify(USER_AVRO) },
  KV_INLINE: keyValueSchema(STRING_SCHEMA, INT32_SCHEMA, "INLINE"),
  KV_SEPARATED: keyValueSchema(STRING_SCHEMA, INT32_SCHEMA, "SEPARATED"),
};

function encode(cell: Cell, i: number): Buffer {
  switch (cell.schema) {
    case "BYTES":
      return cell.chunking ? bigValue(i, CHUNKED_SIZE) : Buffer.from(`bytes-${i}`);
    case "STRING":
      return Buffer.from(`string-${i}`);
    case "JSON":
      return Buffer.from(JSON.stringify({ id: i, name: `name-${i}` }));
    case "AVRO":
      return userType.toBuffer({ id: i, name: `name-${i}` });
    case "KV_INLINE": {
      const key = Buffer.from(`kvkey-${i}`);
      return Buffer.concat([int32(key.length), key, int32(4), int32(i)]);
    }
    case "KV_SEPARATED":
      return int32(i);
  }
}

/** Runs `fn` over `items`, `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function createTopics(list: readonly Cell[]): Promise<void> {
  await Promise.all(
    list.filter((c) => c.partitions > 0).map((c) => admin.createPartitionedTopic(c.topic, c.partitions)),
  );
}

/** What the consumer must see for message i of a cell, decoded by the schema version it carries. */
async function decoded(cell: Cell, m: Message): Promise<unknown> {
  const schema = m.schemaVersion ? await client.getSchema(m.topic, m.schemaVersion) : undefined;
  switch (cell.schema) {
    case "BYTES":
      return m.data;
    case "STRING":
      return m.data.toString();
    case "JSON":
      return JSON.parse(m.data.toString());
    case "AVRO": {
      const writer = avro.Type.forSchema(JSON.parse(schema!.schema.toString()) as avro.Schema);
      return { ...(writer.fromBuffer(m.data) as object) };
    }
    case "KV_INLINE": {
      const keyLength = m.data.readInt32BE(0);
      const key = m.data.subarray(4, 4 + keyLength).toString();
      return { key, value: m.data.readInt32BE(8 + keyLength) };
    }
    case "KV_SEPARATED":
      return { key: m.keyBytes?.toString(), value: m.data.readInt32BE(0) };
  }
}

function expected(cell: Cell, i: number): unknown {
  switch (cell.schema) {
    case "BYTES":
      return cell.chunking ? bigValue(i, CHUNKED_SIZE) : Buffer.from(`bytes-${i}`);
    case "STRING":
      return `string-${i}`;
    case "JSON":
    case "AVRO":
      return { id: i, name: `name-${i}` };
    case "KV_INLINE":
      return { key: `kvkey-${i}`, value: i };
    case "KV_SEPARATED":
      return { key: `k${i % 5}`, value: i };
  }
}

const SCHEMA_TYPE: Record<SchemaKind, string> = {
  BYTES: "BYTES",
  STRING: "STRING",
  JSON: "JSON",
  AVRO: "AVRO",
  KV_INLINE: "KEY_VALUE",
  KV_SEPARATED: "KEY_VALUE",
};

describe("interop matrix with the Java client", () => {
  it("reads every cell the Java client produced: codecs x batching x chunking x schemas x metadata", async () => {
    const list = cells("jm-in", SCHEMAS);
    await createTopics(list);
    const specs = list.map((c) => [c.topic, c.codec, c.batching, c.chunking, c.schema, c.count].join("|"));
    const produced = await interop("matrix-produce", ...specs);
    expect(produced.length).toBe(list.length);

    const problems: string[] = [];
    let messages = 0;
    await eachLimited(list, 8, async (cell) => {
      const label = `${cell.codec}/${cell.batching ? "batch" : "single"}/${cell.chunking ? "chunked/" : ""}${cell.schema}`;
      let batched = 0;
      const consumer = await client.subscribe({
        topic: cell.topic,
        subscription: "matrix",
        subscriptionInitialPosition: "Earliest",
      });
      const seen = new Set<number>();
      const lastPerKey = new Map<string, number>();
      const versions = new Set<string>();
      for (let n = 0; n < cell.count; n++) {
        // Eight cells are read at once; on a loaded machine a dispatch can take a while.
        const m = await consumer.receive(60_000);
        const i = Number(m.properties.i);
        seen.add(i);
        const key = cell.schema === "KV_SEPARATED" ? m.keyBytes?.toString() : m.key;
        const metadata = {
          key,
          keyIsBinary: m.hasBase64EncodedKey,
          properties: m.properties,
          eventTime: m.eventTime,
          orderingKey: m.orderingKey?.toString(),
        };
        const want = {
          key: `k${i % 5}`,
          keyIsBinary: cell.schema === "KV_SEPARATED",
          properties: { i: String(i) },
          eventTime: 1000 + i,
          orderingKey: `o${i % 3}`,
        };
        try {
          expect(metadata).toEqual(want);
          expect(await decoded(cell, m)).toEqual(expected(cell, i));
        } catch (err) {
          problems.push(`${label} message ${i}: ${(err as Error).message.split("\n")[0]}`);
        }
        if ((lastPerKey.get(`${m.topic}/${key}`) ?? -1) >= i)
          problems.push(`${label}: key ${key} out of order at ${i}`);
        lastPerKey.set(`${m.topic}/${key}`, i);
        if (cell.schema !== "BYTES") {
          const schema = m.schemaVersion ? await client.getSchema(m.topic, m.schemaVersion) : undefined;
          if (schema?.type !== SCHEMA_TYPE[cell.schema]) problems.push(`${label}: schema ${schema?.type} at ${i}`);
          if (cell.schema.startsWith("KV_") && schema) {
            // The Java client's registration must equal keyValueSchema's (the broker names it after the topic).
            const ours = SCHEMA_INFO[cell.schema];
            const same =
              schema.schema.equals(ours.schema as Buffer) &&
              JSON.stringify(Object.entries(schema.properties).sort()) ===
                JSON.stringify(Object.entries(ours.properties ?? {}).sort());
            if (!same) problems.push(`${label}: KeyValue schema ${JSON.stringify(schema)}`);
          }
          versions.add(m.schemaVersion?.toString("hex") ?? "none");
        }
        if (m.messageId.batchIndex >= 0) batched++;
        await consumer.acknowledge(m);
        messages++;
      }
      if (seen.size !== cell.count) problems.push(`${label}: ${seen.size} distinct messages of ${cell.count}`);
      if (versions.size > 1) problems.push(`${label}: several schema versions ${[...versions]}`);
      if (cell.batching !== batched > 0)
        problems.push(`${label}: ${batched} of ${cell.count} messages came in batches`);
      await consumer.close();
    });
    console.log(`java -> ours: ${list.length} cells, ${messages} messages checked`);
    expect(problems).toEqual([]);
  }, 300_000);

  it("the Java client reads every cell this client produced, with the same schema versions and partitions", async () => {
    const list = cells("jm-out", SCHEMAS);
    await createTopics(list);
    const sent = new Map<string, { version: string; partitions: Map<number, number> }>();
    await eachLimited(list, 8, async (cell) => {
      const producer = await client.createProducer({
        topic: cell.topic,
        compressionType: cell.codec,
        batchingEnabled: cell.batching,
        batchingMaxMessages: 7,
        chunkingEnabled: cell.chunking,
        chunkMaxMessageSize: 100_000,
        schema: SCHEMA_INFO[cell.schema],
      });
      const ids = await Promise.all(
        Array.from({ length: cell.count }, (_, i) =>
          producer.send({
            value: encode(cell, i),
            ...(cell.schema === "KV_SEPARATED" ? { keyBytes: Buffer.from(`k${i % 5}`) } : { key: `k${i % 5}` }),
            properties: { i: String(i) },
            eventTime: 1000 + i,
            orderingKey: Buffer.from(`o${i % 3}`),
          }),
        ),
      );
      sent.set(cell.topic, {
        version: producer.schemaVersion?.toString("hex") ?? "",
        partitions: new Map(ids.map((id, i) => [i, id.partition])),
      });
      await producer.close();
    });
    const rows = await interop("matrix-consume", ...list.map((c) => `${c.topic}|${c.count}`));
    expect(rows.length).toBe(list.reduce((n, c) => n + c.count, 0));

    const problems: string[] = [];
    for (const cell of list) {
      const label = `${cell.codec}/${cell.batching ? "batch" : "single"}/${cell.chunking ? "chunked/" : ""}${cell.schema}`;
      const mine = rows.filter((r) => r[1] === cell.topic);
      if (mine.length !== cell.count) problems.push(`${label}: Java read ${mine.length} of ${cell.count}`);
      const seen = new Set<number>();
      const lastPerKey = new Map<string, number>();
      for (const [, , value, key, props, eventTime, orderingKey, version, partition] of mine) {
        const i = Number(/i=(\d+);/.exec(props ?? "")?.[1]);
        seen.add(i);
        const data = encode(cell, i);
        const want: Record<SchemaKind, string> = {
          BYTES: `BYTES:${data.length}:${zlib.crc32(data)}`,
          STRING: `STRING:string-${i}`,
          JSON: `JSON:${i}:name-${i}`,
          AVRO: `AVRO:${i}:name-${i}`,
          KV_INLINE: `KEY_VALUE:kvkey-${i}=${i}`,
          KV_SEPARATED: `KEY_VALUE:k${i % 5}=${i}`,
        };
        const expectedRow = [
          want[cell.schema],
          cell.schema === "KV_SEPARATED" ? Buffer.from(`k${i % 5}`).toString("base64") : `k${i % 5}`,
          `i=${i};`,
          String(1000 + i),
          `o${i % 3}`,
          sent.get(cell.topic)!.version,
          String(cell.partitions > 0 ? sent.get(cell.topic)!.partitions.get(i) : -1),
        ];
        const row = [value, key, props, eventTime, orderingKey, version, partition];
        if (JSON.stringify(row) !== JSON.stringify(expectedRow)) {
          problems.push(`${label} message ${i}: got ${JSON.stringify(row)}, want ${JSON.stringify(expectedRow)}`);
        }
        const k = `${partition}/${key}`;
        if ((lastPerKey.get(k) ?? -1) >= i) problems.push(`${label}: key ${key} out of order at ${i}`);
        lastPerKey.set(k, i);
      }
      if (seen.size !== cell.count) problems.push(`${label}: ${seen.size} distinct messages of ${cell.count}`);
    }
    console.log(`ours -> java: ${list.length} cells, ${rows.length} messages checked`);
    expect(problems).toEqual([]);
  }, 300_000);

  it("a SEPARATED KeyValue producer takes its key as keyBytes only, as the Java client's key(String) refuses", async () => {
    const producer = await client.createProducer({
      topic: uniqueTopic("jm-kv-key"),
      schema: SCHEMA_INFO.KV_SEPARATED,
    });
    await expect(producer.send({ value: int32(1), key: "k" })).rejects.toThrow(
      /SEPARATED encoding takes the encoded key/,
    );
    await expect(producer.send({ value: int32(1), key: "k", keyBytes: Buffer.from("k") })).rejects.toThrow(
      /key or keyBytes, not both/,
    );
    await producer.close();
  });
});
