import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { http, subscriptionStats, testWorkerOptions, until } from "./helpers.ts";

// The real built-in connectors of this repository, discovered from the worker package's own dependencies:
// data-generator (source) -> Pulsar -> jdbc-sqlite (sink).
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `b${Date.now().toString(36)}`;
const PASSWORD = `sqlite-pw-${run}`;

let worker: Worker;
let dataDir: string;
let db: Database.Database;
let dbFile: string;
const logs: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-builtin-"));
  dbFile = join(dataDir, "people.db");
  db = new Database(dbFile);
  db.exec(
    "CREATE TABLE people (id INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, email TEXT, age INTEGER, city TEXT, active INTEGER)",
  );
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: join(import.meta.dirname, ".."), serviceUrl, adminUrl, logs }),
    preferSource: true,
  });
});

afterAll(async () => {
  await worker?.close();
  db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("built-in connectors through the worker", () => {
  it("discovers jdbc-sqlite and data-generator and serves their config definitions", async () => {
    const sinks = (await http(worker.url, "GET", "/admin/v3/sinks/builtinsinks")).json;
    expect(sinks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "jdbc-sqlite", sinkClass: "@pulsar-connect/sink-jdbc-sqlite" }),
      ]),
    );
    const sources = (await http(worker.url, "GET", "/admin/v3/sources/builtinsources")).json;
    expect(sources).toEqual(expect.arrayContaining([expect.objectContaining({ name: "data-generator" })]));
    const fields = (await http(worker.url, "GET", "/admin/v3/sinks/builtinsinks/jdbc-sqlite/configdefinition")).json;
    expect(fields).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ fieldName: "password", attributes: expect.objectContaining({ sensitive: "true" }) }),
        expect.objectContaining({ fieldName: "jdbcUrl", attributes: expect.objectContaining({ required: "true" }) }),
      ]),
    );
  });

  it("refuses an invalid jdbc-sqlite config with every field issue", async () => {
    const answer = await http(worker.url, "POST", `/admin/v3/sinks/public/default/${run}-bad`, {
      sinkType: "jdbc-sqlite",
      inputs: ["x"],
      configs: { jdbcUrl: "jdbc:postgresql://localhost/x", insertMode: "MERGE" },
    });
    expect(answer.status).toBe(400);
    const paths = answer.json.issues.map((issue: { path: string }) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(["configs.tableName", "configs.insertMode"]));
  });

  it("moves generated people into SQLite, then keeps going under EFFECTIVELY_ONCE after an update", async () => {
    const topic = `${run}-people`;
    const sink = `${run}-sqlite`;
    const created = await http(worker.url, "POST", `/admin/v3/sinks/public/default/${sink}`, {
      sinkType: "jdbc-sqlite",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      configs: { jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "people", insertMode: "UPSERT", password: PASSWORD },
    });
    expect(created.status).toBe(204);
    const source = await http(worker.url, "POST", `/admin/v3/sources/public/default/${run}-gen`, {
      sourceType: "data-generator",
      topicName: topic,
      configs: { recordType: "people", maxRecords: 150, ratePerSecond: 0 },
    });
    expect(source.status).toBe(204);
    const count = () => (db.prepare("SELECT count(*) AS n FROM people").get() as { n: number }).n;
    await until(() => count() === 150, 60_000, "150 rows in SQLite");
    const update = await http(worker.url, "PUT", `/admin/v3/sinks/public/default/${sink}`, {
      processingGuarantees: "EFFECTIVELY_ONCE",
    });
    expect(update.status).toBe(204);
    await until(async () => (await subscriptionStats(adminUrl, topic, `public/default/${sink}`))?.type === "Failover");
    // A second generator writes the same ids again (a restarted one resumes after its last record): with UPSERT the
    // table keeps 150 rows and the sink keeps up.
    const again = await http(worker.url, "POST", `/admin/v3/sources/public/default/${run}-gen-again`, {
      sourceType: "data-generator",
      topicName: topic,
      configs: { recordType: "people", maxRecords: 150, ratePerSecond: 0 },
    });
    expect(again.status).toBe(204);
    await until(
      async () =>
        (await http(worker.url, "GET", `/admin/v3/sinks/public/default/${sink}/0/status`)).json.numWrittenToSink >= 300,
      60_000,
      "second round written",
    );
    expect(count()).toBe(150);
    for (const name of [`${run}-gen`, `${run}-gen-again`]) {
      const sourceStatus = (await http(worker.url, "GET", `/admin/v3/sources/public/default/${name}/0/status`)).json;
      expect(sourceStatus).toMatchObject({ numWritten: 150, numReceivedFromSource: 150 });
    }
    const get = await http(worker.url, "GET", `/admin/v3/sinks/public/default/${sink}`);
    expect(get.json.configs.password).toBe("********");
    expect(get.json.processingGuarantees).toBe("EFFECTIVELY_ONCE");
    expect(logs.join("")).not.toContain(PASSWORD);
  });
});
