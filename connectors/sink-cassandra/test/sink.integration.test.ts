import { ConnectorError, loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import definition from "../src/index.ts";

const services = inject("services" as never) as {
  cassandra?: { contactPoints: string[]; localDataCenter: string };
};
const contactPoints = services.cassandra?.contactPoints ?? ["127.0.0.1:9042"];
const localDc = services.cassandra?.localDataCenter ?? "datacenter1";
const keyspace = `sink_cassandra_${process.pid}_${Date.now()}`;

let admin: InstanceType<typeof cassandra.Client>;

beforeAll(async () => {
  admin = new cassandra.Client({
    contactPoints,
    localDataCenter: localDc,
    socketOptions: { readTimeout: 60_000 },
  });
  await admin.connect();
  await admin.execute(
    `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await admin.execute(`CREATE TABLE ${keyspace}.kv (k text PRIMARY KEY, v text)`);
  await admin.execute(`CREATE TABLE ${keyspace}.burst (k text PRIMARY KEY, v text)`);
  await admin.execute(
    `CREATE TABLE ${keyspace}.events (id int, userid text, amount bigint, at timestamp, tags list<text>, ok boolean, score double, ref uuid, PRIMARY KEY (id, userid))`,
  );
});

afterAll(async () => {
  await admin?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
  await admin?.shutdown();
});

async function openSink(configs: Record<string, unknown>): Promise<SinkInstance> {
  const config = loadConfig(definition.config, { roots: contactPoints.join(","), keyspace, localDc, ...configs });
  return definition.open(config, createSinkContext().context);
}

async function rows(table: string): Promise<cassandra.types.Row[]> {
  const result = await admin.execute(`SELECT * FROM ${keyspace}.${table}`, [], { fetchSize: 200_000 });
  return result.rows;
}

describe("Cassandra sink against a real Cassandra 5.0", () => {
  it("string mode (upstream): key -> keyname column, value text -> columnName column", async () => {
    const sink = await openSink({ columnFamily: "kv", keyname: "k", columnName: "v" });
    try {
      await sink.write(
        makeSinkRecords<unknown>([{ value: "first", key: "a" }, { value: { n: 2 }, key: "b" }, { value: "no-key" }]),
      );
    } finally {
      await sink.close();
    }
    const byKey = Object.fromEntries((await rows("kv")).map((row) => [row.k, row.v]));
    expect(byKey).toEqual({ a: "first", b: '{"n":2}', "no-key": "no-key" });
  });

  it("structured mode: JSON fields -> columns from the table metadata; a record without its key fails alone", async () => {
    const sink = await openSink({ columnFamily: "events", mode: "structured" });
    try {
      const outcome = await sink.write(
        makeSinkRecords<unknown>([
          {
            value: {
              id: 1,
              userId: "alice",
              amount: 9007199254740991,
              at: "2024-05-06T07:08:09.000Z",
              tags: ["a", "b"],
              ok: true,
              score: 1.5,
              ref: "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47",
              ignored: "x",
            },
          },
          { value: { userid: "bob" } },
          { value: JSON.stringify({ id: 2, userid: "carol", amount: "12" }) },
        ]),
      );
      expect(outcome?.failed.map((failure) => failure.index)).toEqual([1]);
      expect(outcome?.failed[0]?.error).toMatchObject({ code: "INVALID_RECORD", retryable: false });
    } finally {
      await sink.close();
    }
    const written = (await rows("events")).sort((a, b) => a.id - b.id);
    expect(written).toHaveLength(2);
    expect(written[0]?.userid).toBe("alice");
    expect(written[0]?.amount.toString()).toBe("9007199254740991");
    expect(written[0]?.at).toEqual(new Date("2024-05-06T07:08:09.000Z"));
    expect(written[0]?.tags).toEqual(["a", "b"]);
    expect(written[0]?.ok).toBe(true);
    expect(written[0]?.score).toBe(1.5);
    expect(written[0]?.ref.toString()).toBe("6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47");
    expect(written[1]?.userid).toBe("carol");
    expect(written[1]?.amount.toString()).toBe("12");
  });

  it("writes a 100k burst as exactly 100k rows (upstream lost records here)", async () => {
    const sink = await openSink({ columnFamily: "burst", keyname: "k", columnName: "v" });
    const total = 100_000;
    const batch = 1000;
    const started = performance.now();
    try {
      for (let first = 0; first < total; first += batch) {
        const records = makeSinkRecords(
          Array.from({ length: batch }, (_, i) => ({ value: `value-${first + i}`, key: `key-${first + i}` })),
          { firstEntryId: BigInt(first) },
        );
        expect(await sink.write(records)).toBeUndefined();
      }
    } finally {
      await sink.close();
    }
    const seconds = (performance.now() - started) / 1000;
    const count = await admin.execute(`SELECT COUNT(*) FROM ${keyspace}.burst`, [], { readTimeout: 60_000 });
    expect(Number(count.first()?.count)).toBe(total);
    const rowsPerSecond = Math.round(total / seconds);
    console.info(`cassandra burst: ${total} rows in ${seconds.toFixed(2)} s = ${rowsPerSecond} rows/s`);
  });

  it("surfaces an unavailable consistency level as a retryable WRITE_FAILED after its retries", async () => {
    const sink = await openSink({
      columnFamily: "kv",
      keyname: "k",
      columnName: "v",
      consistencyLevel: "THREE",
      retries: 1,
      retryBackoffMs: 10,
    });
    try {
      const error = await sink.write(makeSinkRecords([{ value: "x", key: "three" }])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe("WRITE_FAILED");
      expect((error as ConnectorError).retryable).toBe(true);
    } finally {
      await sink.close();
    }
  });

  it("refuses to open on a missing table or column, naming the config field", async () => {
    const missingTable = await openSink({ columnFamily: "nope", keyname: "k", columnName: "v" }).catch((e) => e);
    expect((missingTable as ConnectorError).code).toBe("NOT_FOUND");
    expect((missingTable as ConnectorError).issues[0]?.path).toBe("configs.columnFamily");
    const missingColumn = await openSink({ columnFamily: "kv", keyname: "k", columnName: "value" }).catch((e) => e);
    expect((missingColumn as ConnectorError).code).toBe("INVALID_CONFIG");
    expect((missingColumn as ConnectorError).issues[0]?.path).toBe("configs.columnName");
  });

  it("refuses to open on a missing keyspace", async () => {
    const config = loadConfig(definition.config, {
      roots: contactPoints.join(","),
      keyspace: "no_such_keyspace_here",
      columnFamily: "kv",
      keyname: "k",
      columnName: "v",
      localDc,
    });
    const error = await definition.open(config, createSinkContext().context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe("NOT_FOUND");
  });
});
