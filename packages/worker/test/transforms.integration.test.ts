import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { http, subscriptionStats, testWorkerOptions, until } from "./helpers.ts";
import { javaAvailable, pulsarAdminClasspath } from "./pulsar-admin/classpath.ts";
import { runPulsarAdmin } from "./pulsar-admin/run-pulsar-admin.ts";

// Sink transforms: the real `transforms` function package in front of the real jdbc-sqlite sink, on a real worker and
// Pulsar, created by Apache Pulsar's own Java pulsar-admin and through the REST API.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `tf${Date.now().toString(36)}`;
const SINKS = "/admin/v3/sinks/public/default";

let classpath: string;
let worker: Worker;
let dataDir: string;
let dbFile: string;
let clientConf: string;
let client: PulsarClient;
const logs: string[] = [];

function pulsarAdmin(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runPulsarAdmin(classpath, clientConf, worker.url, args);
}

async function publish(topic: string, values: unknown[]): Promise<void> {
  const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
  for (const value of values) await producer.send({ value: JSON.stringify(value) });
  await producer.close();
}

function rows<T>(sql: string): T[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

async function backlogOf(topic: string, subscription: string): Promise<number | undefined> {
  return (await subscriptionStats(adminUrl, topic, subscription))?.msgBacklog;
}

// Outside CI a machine without Java or Maven skips the pulsar-admin part; under CI=true it fails with the reason.
const javaRuns = javaAvailable() || process.env.CI === "true";

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-transforms-"));
  dbFile = join(dataDir, "rows.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, fullName TEXT, city TEXT)");
  // No primary key and plain INSERT: a record written twice would show as two rows.
  db.exec("CREATE TABLE events (id INTEGER, label TEXT)");
  db.close();
  clientConf = join(dataDir, "client.conf");
  writeFileSync(clientConf, "");
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: join(import.meta.dirname, ".."), serviceUrl, adminUrl, logs }),
    preferSource: true,
  });
  client = new PulsarClient({ serviceUrl });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await worker?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const PEOPLE_STEPS = {
  steps: [
    { type: "drop", when: "value.status == 'deleted'" },
    {
      type: "compute",
      fields: [{ name: "value.fullName", expression: "fn:concat(value.first, ' ', value.last)", type: "STRING" }],
    },
    { type: "drop-fields", fields: "first,last,password,status" },
  ],
};

describe.runIf(javaRuns)(
  "Apache Pulsar's pulsar-admin creates a jdbc sink with a transform",
  { timeout: 300_000 },
  () => {
    beforeAll(() => {
      if (!javaAvailable()) throw new Error("pulsar-admin compatibility needs `java` and `mvn` on PATH");
      classpath = pulsarAdminClasspath();
    }, 300_000);

    it("writes the transformed rows: fields renamed and dropped, deleted records dropped and acknowledged", async () => {
      const name = `${run}-people`;
      const input = `${run}-people-in`;
      const created = await pulsarAdmin(
        "sinks",
        "create",
        "--name",
        name,
        "--sink-type",
        "jdbc-sqlite",
        "--inputs",
        input,
        "--sink-config",
        JSON.stringify({ jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "people", insertMode: "UPSERT" }),
        "--transform-function",
        "builtin://transforms",
        "--transform-function-config",
        JSON.stringify(PEOPLE_STEPS),
      );
      expect(created.stdout.trim()).toBe("Created successfully");
      const got = JSON.parse((await pulsarAdmin("sinks", "get", "--name", name)).stdout);
      expect(got).toMatchObject({ transformFunction: "builtin://transforms" });
      expect(JSON.parse(got.transformFunctionConfig)).toEqual(PEOPLE_STEPS);
      await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json?.numRunning === 1);

      await publish(input, [
        { id: 1, first: "Ada", last: "Lovelace", password: "p1", city: "London", status: "live" },
        { id: 2, first: "Alan", last: "Turing", password: "p2", city: "Wilmslow", status: "deleted" },
        { id: 3, first: "Grace", last: "Hopper", password: "p3", city: "Arlington", status: "live" },
        { id: 4, first: "Edsger", last: "Dijkstra", password: "p4", city: "Nuenen", status: "deleted" },
        { id: 5, first: "Barbara", last: "Liskov", password: "p5", city: "Boston", status: "live" },
      ]);
      await until(() => rows("SELECT id FROM people").length === 3, 60_000, "three rows");
      // The dropped records are acknowledged as processed: nothing stays in the backlog.
      await until(async () => (await backlogOf(input, `public/default/${name}`)) === 0, 30_000, "empty backlog");
      expect(rows("SELECT id, fullName, city FROM people ORDER BY id")).toEqual([
        { id: 1, fullName: "Ada Lovelace", city: "London" },
        { id: 3, fullName: "Grace Hopper", city: "Arlington" },
        { id: 5, fullName: "Barbara Liskov", city: "Boston" },
      ]);
      const status = (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json;
      expect(status.instances[0].status).toMatchObject({
        numReadFromPulsar: 5,
        numWrittenToSink: 3,
        numSinkExceptions: 0,
      });
      expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
    });

    it("refuses, naming the field, a function that is not installed, another class name and a bad config", async () => {
      const create = (...extra: string[]) =>
        pulsarAdmin(
          "sinks",
          "create",
          "--name",
          `${run}-refused`,
          "--sink-type",
          "jdbc-sqlite",
          "--inputs",
          `${run}-refused-in`,
          "--sink-config",
          JSON.stringify({ jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "people" }),
          ...extra,
        );
      const missing = await create("--transform-function", "builtin://mapper");
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("transformFunction: function 'mapper' is not installed");
      expect(missing.stderr).toContain("[transforms]");
      // One answer names every wrong field.
      const wrong = await create(
        "--transform-function",
        "builtin://transforms",
        "--transform-function-classname",
        "org.apache.pulsar.functions.transforms.TransformFunction",
        "--transform-function-config",
        '{"steps":[{"type":"rename"},{"type":"drop","when":"value.a =="}]}',
      );
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain(
        "transformFunctionClassName: 'org.apache.pulsar.functions.transforms.TransformFunction' is not the function",
      );
      expect(wrong.stderr).toContain("transformFunctionConfig.steps.0.type");
      expect(wrong.stderr).toContain("transformFunctionConfig.steps.1.when: invalid expression");
      const sameClass = await create(
        "--transform-function",
        "builtin://transforms",
        // The function's name (its package name would work too, but JCommander reads an argument starting with @ as a file).
        "--transform-function-classname",
        "transforms",
        "--transform-function-config",
        '{"steps":[{"type":"flatten"}]}',
      );
      expect(sameClass.stdout.trim(), sameClass.stderr).toBe("Created successfully");
      expect((await http(worker.url, "DELETE", `${SINKS}/${run}-refused`)).status).toBe(204);
    });
  },
);

describe("a throwing transform under EFFECTIVELY_ONCE with a dead-letter topic", () => {
  it("dead-letters the failing records, drops the dropped ones, writes the rest, each exactly once across a restart", {
    timeout: 180_000,
  }, async () => {
    const name = `${run}-events`;
    const input = `${run}-events-in`;
    const deadLetters = `persistent://public/default/${run}-events-dlq`;
    const dlq = await client.subscribe({
      topic: deadLetters,
      subscription: `${run}-dlq-reader`,
      subscriptionInitialPosition: "Earliest",
    });
    const created = await http(worker.url, "POST", `${SINKS}/${name}`, {
      sinkType: "jdbc-sqlite",
      inputs: [input],
      processingGuarantees: "EFFECTIVELY_ONCE",
      maxMessageRetries: 1,
      deadLetterTopic: deadLetters,
      transformFunction: "transforms",
      transformFunctionConfig: JSON.stringify({
        steps: [
          { type: "drop", when: "value.kind == 'skip'" },
          // A record without a name makes the function throw (a required computed field is null).
          {
            type: "compute",
            fields: [{ name: "value.label", expression: "fn:uppercase(value.name)", type: "STRING", optional: false }],
          },
          { type: "drop-fields", fields: "name,kind" },
        ],
      }),
      configs: { jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "events", insertMode: "INSERT" },
    });
    expect(created.status, created.text).toBe(204);

    // Record i: every fifth fails in the function, the one after it is dropped by it, the others are written.
    const event = (i: number) =>
      i % 5 === 0
        ? { id: i, kind: "broken" }
        : i % 5 === 1
          ? { id: i, name: `n${i}`, kind: "skip" }
          : { id: i, name: `n${i}`, kind: "ok" };
    const expectedIds = (to: number) => Array.from({ length: to }, (_, i) => i).filter((i) => i % 5 > 1);
    const failingIds = (to: number) => Array.from({ length: to }, (_, i) => i).filter((i) => i % 5 === 0);
    const deadLettered: number[] = [];
    const readDeadLetters = async (count: number) => {
      while (deadLettered.length < count) {
        const message = await dlq.receive(60_000);
        deadLettered.push((JSON.parse(Buffer.from(message.data).toString("utf8")) as { id: number }).id);
        expect(message.properties.__pulsar_connect_error).toContain("value.label: the expression gave null");
        await dlq.acknowledge(message);
      }
    };

    await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json?.numRunning === 1);
    await publish(
      input,
      Array.from({ length: 40 }, (_, i) => event(i)),
    );
    // Restarted while the first records are in flight: the graceful stop settles what it holds, the rest comes again.
    expect((await http(worker.url, "POST", `${SINKS}/${name}/restart`)).status).toBe(204);
    await publish(
      input,
      Array.from({ length: 40 }, (_, i) => event(i + 40)),
    );
    await until(() => rows("SELECT id FROM events").length >= expectedIds(80).length, 90_000, "rows written");
    await readDeadLetters(failingIds(80).length);
    await until(async () => (await backlogOf(input, `public/default/${name}`)) === 0, 30_000, "empty backlog");
    // Nothing more arrives late: a duplicate write or dead letter would show up now.
    expect((await http(worker.url, "POST", `${SINKS}/${name}/restart`)).status).toBe(204);
    await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json?.numRunning === 1);
    await expect(dlq.receive(3_000)).rejects.toThrow();

    const written = rows<{ id: number; label: string }>("SELECT id, label FROM events ORDER BY id");
    expect(written.map((row) => row.id)).toEqual(expectedIds(80));
    expect(written.every((row) => row.label === `N${row.id}`)).toBe(true);
    expect([...deadLettered].sort((a, b) => a - b)).toEqual(failingIds(80));
    await dlq.close();
    expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });
});
