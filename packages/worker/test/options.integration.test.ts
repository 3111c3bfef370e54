import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { http, testWorkerOptions, until } from "./helpers.ts";

// pulsar-admin options through a real worker, real Pulsar and the real data-generator and jdbc-sqlite connectors:
// each option either takes effect (seen on the broker), or the answer refuses it or carries a warning naming it.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `o${Date.now().toString(36)}`;
const SINKS = "/admin/v3/sinks/public/default";
const SOURCES = "/admin/v3/sources/public/default";

let worker: Worker;
let dataDir: string;
let dbFile: string;
let client: PulsarClient;
const logs: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-options-"));
  dbFile = join(dataDir, "rows.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, firstName TEXT)");
  db.close();
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: join(import.meta.dirname, ".."), serviceUrl, adminUrl, logs }),
    preferSource: true,
  });
  client = new PulsarClient({ serviceUrl });
});

afterAll(async () => {
  await client?.close();
  await worker?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sqliteConfigs = () => ({ jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "people", insertMode: "UPSERT" });

/** Reads `count` messages of a topic from the start: [key, ledger:entry] of each. */
async function entriesOf(topic: string, count: number): Promise<Array<{ key: string | undefined; entry: string }>> {
  const consumer = await client.subscribe({
    topic: `persistent://public/default/${topic}`,
    subscription: `${run}-reader`,
    subscriptionInitialPosition: "Earliest",
  });
  const out: Array<{ key: string | undefined; entry: string }> = [];
  try {
    while (out.length < count) {
      const message = await consumer.receive(20_000);
      out.push({ key: message.key, entry: `${message.messageId.ledgerId}:${message.messageId.entryId}` });
      await consumer.acknowledge(message);
    }
  } finally {
    await consumer.close();
  }
  return out;
}

function keysPerEntry(messages: Array<{ key: string | undefined; entry: string }>): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const { key, entry } of messages) entries.set(entry, [...(entries.get(entry) ?? []), String(key)]);
  return entries;
}

describe("pulsar-admin options through a worker", () => {
  it("answers warnings for resources and compatOnly connector fields, logs each once, and shows resources", async () => {
    const name = `${run}-warn`;
    const config = {
      sinkType: "jdbc-sqlite",
      inputs: [`${run}-warn-in`],
      resources: { cpu: 2, ram: 1073741824 },
      configs: { ...sqliteConfigs(), useJdbcBatch: true },
    };
    const validated = await http(worker.url, "POST", `${SINKS}/${name}/validate`, config);
    expect(validated.status).toBe(200);
    const fields = ["resources.cpu", "resources.ram", "configs.useJdbcBatch"];
    expect(validated.json.warnings.map((warning: { field: string }) => warning.field)).toEqual(fields);
    const created = await http(worker.url, "POST", `${SINKS}/${name}`, config);
    expect(created.status).toBe(200);
    expect(created.json.warnings.map((warning: { field: string }) => warning.field)).toEqual(fields);
    expect(created.json.warnings[2].message).toContain("multi-row statements");
    const logged = logs.filter((line) => line.includes(`"fqfn":"public/default/${name}"`) && line.includes('"field"'));
    expect(logged.map((line) => JSON.parse(line).field)).toEqual(fields);
    expect((await http(worker.url, "GET", `${SINKS}/${name}`)).json.resources).toEqual({ cpu: 2, ram: 1073741824 });
    // A config without such fields gets upstream's empty 204.
    const plain = await http(worker.url, "POST", `${SINKS}/${run}-plain`, {
      ...config,
      resources: undefined,
      configs: sqliteConfigs(),
    });
    expect(plain.status).toBe(204);
    const refused = await http(worker.url, "PUT", `${SINKS}/${name}`, {
      updateOptions: { updateAuthData: true },
      sinkConfig: { parallelism: 2 },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.reason).toContain("updateOptions.updateAuthData: is not supported");
  });

  it("refuses fields that cannot work here with 400 naming each one", async () => {
    const answer = await http(worker.url, "POST", `${SINKS}/${run}-refused`, {
      sinkType: "jdbc-sqlite",
      inputs: [`${run}-refused-in`],
      className: "org.apache.pulsar.io.jdbc.SqliteJdbcAutoSchemaSink",
      transformFunction: "function://public/default/mapper@1",
      inputSpecs: { [`${run}-refused-in`]: { cryptoConfig: { cryptoKeyReaderClassName: "Reader" } } },
      configs: sqliteConfigs(),
    });
    expect(answer.status).toBe(400);
    for (const field of [`inputSpecs.${run}-refused-in.cryptoConfig`]) {
      expect(answer.json.reason).toContain(`${field}: is not supported`);
    }
    expect(answer.json.reason).toContain("transformFunction: 'function://public/default/mapper@1' is not supported");
    const flags = await http(worker.url, "POST", `${SINKS}/${run}-flags`, {
      sinkType: "jdbc-sqlite",
      inputs: [`${run}-flags-in`],
      runtimeFlags: "--stack-trace-limit=50",
      configs: sqliteConfigs(),
    });
    expect(flags.status).toBe(400);
    expect(flags.json.reason).toContain("runtimeFlags: is not supported by the in-process runtime");
    const className = await http(worker.url, "POST", `${SINKS}/${run}-class`, {
      sinkType: "jdbc-sqlite",
      inputs: [`${run}-class-in`],
      className: "org.apache.pulsar.io.jdbc.SqliteJdbcAutoSchemaSink",
      configs: sqliteConfigs(),
    });
    expect(className.status).toBe(400);
    expect(className.json.reason).toContain(
      "className: 'org.apache.pulsar.io.jdbc.SqliteJdbcAutoSchemaSink' is not the sink",
    );
    const source = await http(worker.url, "POST", `${SOURCES}/${run}-refused-src`, {
      sourceType: "data-generator",
      topicName: `${run}-never`,
      serdeClassName: "com.acme.PersonSerde",
      batchSourceConfig: { discoveryTriggererClassName: "Trigger" },
      producerConfig: { cryptoConfig: { cryptoKeyReaderClassName: "Reader" } },
    });
    expect(source.status).toBe(400);
    for (const field of ["serdeClassName", "batchSourceConfig", "producerConfig.cryptoConfig"]) {
      expect(source.json.reason).toContain(`${field}: is not supported`);
    }
  });

  it("subscribes a sink to its --inputs and to the topics its --topics-pattern matches", async () => {
    const name = `${run}-both`;
    const named = `${run}-both-named`;
    const matched = `${run}-pat-1`;
    const created = await fetch(`${adminUrl}/admin/v2/persistent/public/default/${matched}`, { method: "PUT" });
    expect(created.ok).toBe(true);
    const answer = await http(worker.url, "POST", `${SINKS}/${name}`, {
      sinkType: "jdbc-sqlite",
      inputs: [named],
      topicsPattern: `persistent://public/default/${run}-pat-.*`,
      configs: sqliteConfigs(),
    });
    expect(answer.status, answer.text).toBe(204);
    const consumers = async (topic: string) => {
      const stats = await fetch(`${adminUrl}/admin/v2/persistent/public/default/${topic}/stats`);
      if (!stats.ok) return 0;
      const body = (await stats.json()) as { subscriptions: Record<string, { consumers: unknown[] }> };
      return body.subscriptions[`public/default/${name}`]?.consumers.length ?? 0;
    };
    await until(async () => (await consumers(named)) === 1 && (await consumers(matched)) === 1, 30_000, "both topics");
  });

  it("publishes the instance's log lines to --log-topic with upstream's properties", async () => {
    const name = `${run}-logged`;
    const logTopic = `${run}-logs`;
    const reader = await client.subscribe({
      topic: `persistent://public/default/${logTopic}`,
      subscription: `${run}-log-reader`,
    });
    try {
      const created = await http(worker.url, "POST", `${SINKS}/${name}`, {
        sinkType: "jdbc-sqlite",
        inputs: [`${run}-logged-in`],
        logTopic,
        configs: sqliteConfigs(),
      });
      expect(created.status).toBe(204);
      // The JDBC sink logs the table it writes to when it opens.
      const line = await reader.receive(30_000);
      expect(line.data.toString()).toContain("sink ready");
      expect(line.properties).toEqual({ loglevel: "INFO", instance: "0", fqn: `public/default/${name}` });
      expect(
        logs.some((entry) => entry.includes(`"fqfn":"public/default/${name}"`) && entry.includes("sink ready")),
      ).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it("batches a source's output per key with KEY_BASED, within batchingConfig limits, under its declared schema", async () => {
    const keyBased = `${run}-kb`;
    const plain = `${run}-default`;
    const create = (name: string, extra: Record<string, unknown>) =>
      http(worker.url, "POST", `${SOURCES}/${name}`, {
        sourceType: "data-generator",
        topicName: name,
        schemaType: "json",
        configs: { recordType: "people", maxRecords: 60, ratePerSecond: 0 },
        ...extra,
      });
    const batching = { batchingMaxPublishDelayMs: 200, batchingMaxMessages: 4 };
    expect(
      (await create(keyBased, { batchBuilder: "KEY_BASED", producerConfig: { batchingConfig: batching } })).status,
    ).toBe(204);
    expect((await create(plain, { producerConfig: { batchingConfig: batching } })).status).toBe(204);
    const keyed = keysPerEntry(await entriesOf(keyBased, 60));
    const mixed = keysPerEntry(await entriesOf(plain, 60));
    // Every key is distinct: a key-based batch holds one key, a default batch up to batchingMaxMessages of them.
    expect([...keyed.values()].every((keys) => new Set(keys).size === 1)).toBe(true);
    expect([...mixed.values()].some((keys) => keys.length > 1)).toBe(true);
    expect(Math.max(...[...mixed.values()].map((keys) => keys.length))).toBeLessThanOrEqual(4);
    const schema = await fetch(`${adminUrl}/admin/v2/schemas/public/default/${keyBased}/schema`);
    expect(((await schema.json()) as { type: string }).type).toBe("JSON");
  });

  it("subscribes to the topics of --custom-schema-inputs with the input specs' queue size and properties", async () => {
    const name = `${run}-specs`;
    const topic = `${run}-specs-in`;
    const created = await http(worker.url, "POST", `${SINKS}/${name}`, {
      sinkType: "jdbc-sqlite",
      topicToSchemaType: { [topic]: "JSON" },
      inputSpecs: { [topic]: { receiverQueueSize: 7, consumerProperties: { team: "payments" } } },
      configs: sqliteConfigs(),
    });
    expect(created.status).toBe(204);
    let consumer: { availablePermits?: number; metadata?: Record<string, string> } | undefined;
    await until(
      async () => {
        const stats = await fetch(`${adminUrl}/admin/v2/persistent/public/default/${topic}/stats`);
        if (!stats.ok) return false;
        const body = (await stats.json()) as {
          subscriptions: Record<
            string,
            { consumers: Array<{ availablePermits?: number; metadata?: Record<string, string> }> }
          >;
        };
        consumer = body.subscriptions[`public/default/${name}`]?.consumers[0];
        return consumer !== undefined;
      },
      30_000,
      "the sink's consumer on the schema-inputs topic",
    );
    expect(consumer?.metadata).toMatchObject({ team: "payments" });
    expect(consumer?.availablePermits).toBeLessThanOrEqual(7);
  });
});
