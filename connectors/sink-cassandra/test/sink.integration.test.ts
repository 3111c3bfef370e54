import { ConnectorError, loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
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

  it("writes a 100k burst as exactly 100k rows with 64 writes in flight, as the runtime runs them (upstream lost records here)", async () => {
    const sink = await openSink({ columnFamily: "burst", keyname: "k", columnName: "v" });
    const total = 100_000;
    const batch = 16;
    const inFlight = 64;
    let next = 0;
    const started = performance.now();
    try {
      // Each of 64 writers takes the next batch when its write resolved: at most 64 writes, so 64 inserts, at once.
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < total) {
            const first = next;
            next += batch;
            const records = makeSinkRecords(
              Array.from({ length: Math.min(batch, total - first) }, (_, i) => ({
                value: `value-${first + i}`,
                key: `key-${first + i}`,
              })),
              { firstEntryId: BigInt(first) },
            );
            expect(await sink.write(records)).toBeUndefined();
          }
        }),
      );
    } finally {
      await sink.close();
    }
    const seconds = (performance.now() - started) / 1000;
    // Page through the keys: a COUNT(*) over the whole table can hit the server's read timeout on a loaded machine.
    const keys = new Set<string>();
    let pageState: string | undefined;
    do {
      const page = await admin.execute(`SELECT k FROM ${keyspace}.burst`, [], { fetchSize: 5000, pageState });
      for (const row of page.rows) keys.add(row.k as string);
      pageState = page.pageState ?? undefined;
    } while (pageState);
    expect(keys.size).toBe(total);
    const rowsPerSecond = Math.round(total / seconds);
    console.info(`cassandra burst: ${total} rows in ${seconds.toFixed(2)} s = ${rowsPerSecond} rows/s`);
  });

  it("surfaces an unavailable consistency level as a retryable WRITE_FAILED at once, for the runtime to retry", async () => {
    const sink = await openSink({ columnFamily: "kv", keyname: "k", columnName: "v", consistencyLevel: "THREE" });
    try {
      const error = await sink.write(makeSinkRecords([{ value: "x", key: "three" }])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe("WRITE_FAILED");
      expect((error as ConnectorError).retryable).toBe(true);
    } finally {
      await sink.close();
    }
  });

  // A transient failure says nothing against the record: once the retries are used up the instance fails (and is
  // restarted with the record), the record never goes to the dead-letter topic, even with one configured.
  it.each(["EFFECTIVELY_ONCE", "ATLEAST_ONCE"] as const)(
    "through the runtime, retries an unavailable consistency level `retries` times from retryBackoffMs, then fails the instance without dead-lettering (%s)",
    async (guarantee) => {
      const topic = `persistent://public/default/${uniqueName("cassandra-retries")}`;
      const deadLetterTopic = `persistent://public/default/${uniqueName("cassandra-retries-dlq")}`;
      const pulsar = pulsarEndpoints();
      const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
      try {
        const producer = await client.createProducer({ topic, batchingEnabled: false });
        await producer.send({ value: Buffer.from("x"), key: "three" });
        await producer.close();
        const resolved = resolveSinkConfig({
          name: uniqueName("cassandra-retries"),
          archive: "builtin://cassandra",
          inputs: [topic],
          sourceSubscriptionPosition: "Earliest",
          processingGuarantees: guarantee,
          maxMessageRetries: 1,
          deadLetterTopic,
          negativeAckRedeliveryDelayMs: 100,
          configs: {
            roots: contactPoints.join(","),
            keyspace,
            localDc,
            columnFamily: "kv",
            keyname: "k",
            columnName: "v",
            consistencyLevel: "THREE",
            retries: 2,
            retryBackoffMs: 300,
          },
        });
        if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
        const instance = createInstance({
          kind: "sink",
          config: resolved.value,
          definition,
          instanceId: 0,
          pulsar: { client, adminUrl: pulsar.adminUrl },
        });
        const started = performance.now();
        await instance.start();
        let timer: NodeJS.Timeout | undefined;
        const failure = await Promise.race([
          instance.done.then(
            () => "stopped without failing",
            (error: unknown) => (error as Error).message,
          ),
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve("still running"), 30_000);
          }),
        ]);
        clearTimeout(timer);
        if (failure === "still running") await instance.stop();
        expect(failure).toMatch(/gave up after 2 retries: Cassandra write failed/);
        // Two waits of the runtime's backoff: 300 ms then 600 ms, less at most 10 % jitter.
        expect(performance.now() - started).toBeGreaterThanOrEqual(810);
        expect(instance.stats.connectorExceptions).toBeGreaterThanOrEqual(3);
        const path = deadLetterTopic.replace("persistent://", "");
        const response = await fetch(`${pulsar.adminUrl}/admin/v2/persistent/${path}/stats`);
        const dead = response.ok ? ((await response.json()) as { msgInCounter?: number }).msgInCounter : 0;
        expect(dead ?? 0, "records sent to the dead-letter topic").toBe(0);
      } finally {
        await client.close();
      }
    },
  );

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
