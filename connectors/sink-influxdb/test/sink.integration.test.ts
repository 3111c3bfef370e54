import { type ConnectorError, compatWarnings, loadConfig } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { privateServer } from "@pulsar-connect/services/private-server";
import { endpointOf, pulsarEndpoints } from "@pulsar-connect/test-support";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { query, rows, uniqueDatabase } from "./influx.ts";

const influxdbUrl = endpointOf("influxdb").url;

const ownInflux = privateServer("influxdb");

async function openSink(configs: Record<string, unknown>) {
  const handle = createSinkContext({ name: "influxdb-sink-test" });
  const sink = await definition.open(loadConfig(definition.config, configs), handle.context);
  return { sink, handle };
}

const raw = (text: string) => ({ value: text });

describe("InfluxDB sink against a real server", () => {
  it("round-trips names and tag values with commas, spaces, equals signs, quotes and backslashes", async () => {
    const database = uniqueDatabase("escaping");
    const { sink } = await openSink({ influxdbUrl, database });
    const measurement = 'load, avg="1m"\\x';
    const tags = { "host name": "a,b=c d", 'q"uote': 'x\\y"z', "=": "," };
    const text = 'say "hi", a=b \\ back\\\\slash\nnew line';
    expect(
      await sink.write(makeSinkRecords([{ value: { measurement, tags, "field, key=": 1.5, text, n: 7 } }])),
    ).toBeUndefined();
    await sink.close();
    const [series] = await query(
      database,
      `SELECT * FROM "${measurement.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}" GROUP BY *`,
    );
    expect(series?.name).toBe(measurement);
    expect(series?.tags).toEqual(tags);
    const row = Object.fromEntries(series?.columns.map((c, i) => [c, series.values[0]?.[i]]) ?? []);
    expect(row).toMatchObject({ "field, key=": 1.5, text, n: 7 });
  });

  it("writes integers as integer fields and floats (even 2.0) as float fields, with 64-bit integers intact", async () => {
    const database = uniqueDatabase("types");
    const { sink } = await openSink({ influxdbUrl, database, timestampField: "t", precision: "s" });
    await sink.write(
      makeSinkRecords([raw('{"measurement":"m","t":1700000000,"i":9223372036854775807,"f":2.0,"e":1e3,"b":true}')]),
    );
    await sink.close();
    const keys = await rows(database, 'SHOW FIELD KEYS FROM "m"');
    expect(Object.fromEntries(keys.map((k) => [k.fieldKey, k.fieldType]))).toEqual({
      i: "integer",
      f: "float",
      e: "float",
      b: "boolean",
    });
    // The JSON answer would round the integer; its text shows every digit.
    const url = new URL("/query", influxdbUrl);
    url.searchParams.set("db", database);
    url.searchParams.set("q", 'SELECT "i" FROM "m"');
    url.searchParams.set("epoch", "s");
    expect(await (await fetch(url)).text()).toContain("[1700000000,9223372036854775807]");
  });

  it("sends gzip when asked, and a record written again with its own time replaces itself", async () => {
    const database = uniqueDatabase("gzip");
    const { sink } = await openSink({
      influxdbUrl,
      database,
      gzipEnable: true,
      timestampField: "at",
      precision: "ms",
    });
    const records = Array.from({ length: 500 }, (_, id) => ({
      value: { measurement: "g", at: 1_700_000_000_000 + id, id },
    }));
    await sink.write(makeSinkRecords(records));
    await sink.write(makeSinkRecords(records.slice(0, 10)));
    await sink.close();
    const counted = await rows(database, 'SELECT count("id") FROM "g"');
    expect(counted[0]?.count).toBe(500);
  });

  it("refuses exactly the records the server or the mapping refuse, and writes the rest of the batch", async () => {
    const database = uniqueDatabase("refused");
    const { sink } = await openSink({ influxdbUrl, database, batchSize: 50 });
    const values: unknown[] = Array.from({ length: 40 }, (_, id) => ({ measurement: "r", id, v: 1.5 }));
    values[7] = { measurement: "r", id: 7, v: "text" }; // field type conflict with the float v
    values[21] = { id: 21 }; // no measurement
    values[33] = raw('{"measurement":"r","id":33,"v":3}').value; // integer v: a type conflict too
    const outcome = await sink.write(makeSinkRecords(values.map((value) => ({ value }))));
    await sink.close();
    expect(
      outcome?.failed.map((f) => [f.index, (f.error as ConnectorError).code, (f.error as ConnectorError).retryable]),
    ).toEqual([
      [7, "INVALID_RECORD", false],
      [21, "INVALID_RECORD", false],
      [33, "INVALID_RECORD", false],
    ]);
    expect(outcome?.failed[0]?.error.message).toMatch(/field type conflict/);
    const ids = (await rows(database, 'SELECT "id" FROM "r"')).map((row) => row.id);
    expect(ids.sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 40 }, (_, id) => id).filter((id) => ![7, 21, 33].includes(id)),
    );
  });

  it("sends a poison record to the dead-letter topic through the runtime and writes the others", {
    timeout: 120_000,
  }, async () => {
    const database = uniqueDatabase("dlq");
    const run = database.replace(/_/g, "-");
    const topic = `persistent://public/default/${run}`;
    const deadLetterTopic = `persistent://public/default/${run}-dlq`;
    const { serviceUrl, adminUrl } = pulsarEndpoints();
    const client = new PulsarClient({ serviceUrl });
    try {
      const dlq = await client.subscribe({
        topic: deadLetterTopic,
        subscription: "check",
        subscriptionInitialPosition: "Earliest",
      });
      const producer = await client.createProducer({ topic, batchingEnabled: false });
      for (const value of [
        '{"measurement":"d","id":0,"v":1.5}',
        '{"measurement":"d","id":1,"v":"oops"}',
        "not json",
        '{"measurement":"d","id":3,"v":2.5}',
      ]) {
        await producer.send({ value: Buffer.from(value) });
      }
      await producer.close();
      const resolved = resolveSinkConfig({
        name: run,
        archive: "builtin://influxdb",
        inputs: [topic],
        sourceSubscriptionPosition: "Earliest",
        processingGuarantees: "ATLEAST_ONCE",
        maxMessageRetries: 1,
        deadLetterTopic,
        configs: { influxdbUrl, database },
        secrets: {},
      });
      if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
      const instance = createInstance({
        kind: "sink",
        config: resolved.value,
        definition,
        instanceId: 0,
        pulsar: { client, adminUrl },
      });
      await instance.start();
      const deadLettered: string[] = [];
      while (deadLettered.length < 2) {
        const message = await dlq.receive(60_000);
        deadLettered.push(Buffer.from(message.data).toString("utf8"));
        await dlq.acknowledge(message);
      }
      await expect.poll(async () => (await rows(database, 'SELECT "id" FROM "d"')).length, { timeout: 30_000 }).toBe(2);
      await instance.stop();
      await dlq.close();
      expect(deadLettered.sort()).toEqual(["not json", '{"measurement":"d","id":1,"v":"oops"}']);
      expect((await rows(database, 'SELECT "id" FROM "d"')).map((row) => row.id)).toEqual([0, 3]);
    } finally {
      await client.close();
    }
  });

  it("fails writes with a retryable error naming the server while it is down, and writes again after", {
    timeout: 90_000,
  }, async () => {
    const { url } = ownInflux.endpoint();
    const database = uniqueDatabase("down");
    const { sink } = await openSink({ influxdbUrl: url, database });
    await sink.write(makeSinkRecords([{ value: { measurement: "x", id: 1 } }]));
    await ownInflux.kill();
    const down = await sink
      .write(makeSinkRecords([{ value: { measurement: "x", id: 2 } }]))
      .catch((error: unknown) => error);
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    expect((down as Error).message).toContain(new URL(url).origin);
    await ownInflux.start();
    await expect
      .poll(
        () =>
          sink.write(makeSinkRecords([{ value: { measurement: "x", id: 2 } }])).then(
            () => "written",
            (e: Error) => e.message,
          ),
        { timeout: 30_000, interval: 200 },
      )
      .toBe("written");
    await sink.close();
    expect((await rows(database, 'SELECT "id" FROM "x"', url)).map((row) => row.id)).toEqual([1, 2]);
  });

  it("refuses to open against a server that does not answer, with a retryable error", async () => {
    const error = await openSink({ influxdbUrl: "http://127.0.0.1:1", database: "nothing" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
  });

  it("accepts logLevel and batchTimeMs with a warning saying they have no effect", () => {
    const warnings = compatWarnings(definition.config, {
      influxdbUrl,
      database: "d",
      logLevel: "FULL",
      batchTimeMs: 5,
    });
    expect(warnings.map((w) => w.field)).toEqual(["configs.logLevel", "configs.batchTimeMs"]);
  });
});
