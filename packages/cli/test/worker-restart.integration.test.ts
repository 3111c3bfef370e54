import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { http, linesOf, until } from "../../worker/test/helpers.ts";

// A real worker process (the CLI's `worker` command, run from source) on one data folder: connectors created
// through its API must come back exactly as the user left them after a SIGKILL and after a graceful stop.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const REPO = join(import.meta.dirname, "..", "..", "..");
const run = `r${Date.now().toString(36)}`;
const NAMESPACE = `public/${run}`;
const GUARANTEES = ["ATMOST_ONCE", "ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const;

interface Pipeline {
  guarantee: (typeof GUARANTEES)[number];
  parallelism: number;
  source: string;
  sink: string;
  db: string;
}

let host: string;
let dataDir: string;
let port: number;
let base: string;
let worker: { process: ChildProcess; exit: Promise<number | null>; logs: string[] } | undefined;
const admin = new PulsarAdmin({ serviceUrl: adminUrl });
const pipelines: Pipeline[] = [];

/** A host folder declaring the built-in sqlite sink and data generator, the way an operator installs them. */
function connectorHost(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulsar-connect-restart-host-"));
  const packages = {
    "sink-jdbc-sqlite": "connectors/sink-jdbc-sqlite",
    "source-data-generator": "connectors/source-data-generator",
  };
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "restart-host",
      private: true,
      dependencies: Object.fromEntries(Object.keys(packages).map((name) => [`@pulsar-connect/${name}`, "*"])),
    }),
  );
  mkdirSync(join(dir, "node_modules", "@pulsar-connect"), { recursive: true });
  for (const [name, folder] of Object.entries(packages)) {
    symlinkSync(join(REPO, folder), join(dir, "node_modules", "@pulsar-connect", name), "dir");
  }
  // A connector package the reload test edits on disk; it finds @pulsar-connect/core in the repository.
  const probe = join(dir, "node_modules", "reload-probe-sink");
  mkdirSync(join(probe, "node_modules", "@pulsar-connect"), { recursive: true });
  symlinkSync(join(REPO, "packages/core"), join(probe, "node_modules", "@pulsar-connect", "core"), "dir");
  writeFileSync(
    join(probe, "package.json"),
    JSON.stringify({
      name: "reload-probe-sink",
      version: "1.0.0",
      type: "module",
      exports: { ".": "./index.js", "./package.json": "./package.json" },
      pulsarConnector: { manifestVersion: 1, kind: "sink", name: "reload-probe", description: "writes lines" },
    }),
  );
  writeProbe(dir, "v1");
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  manifest.dependencies["reload-probe-sink"] = "*";
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest));
  return dir;
}

/** The reload probe's code: it writes `<version>:<value>` lines to the file in its config. */
function writeProbe(hostDir: string, version: string): void {
  writeFileSync(
    join(hostDir, "node_modules", "reload-probe-sink", "index.js"),
    [
      'import { appendFile } from "node:fs/promises";',
      'import { defineSink, z } from "@pulsar-connect/core";',
      "export default defineSink({",
      '  name: "reload-probe",',
      '  description: "writes lines",',
      "  config: z.object({ path: z.string() }),",
      "  async open(config) {",
      "    return {",
      "      async write(records) {",
      `        const lines = records.map((record) => "${version}:" + new TextDecoder().decode(record.data) + "\\n");`,
      '        await appendFile(config.path, lines.join(""));',
      "      },",
      "      async close() {},",
      "    };",
      "  },",
      "});",
      "",
    ].join("\n"),
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return address.port;
}

/** Starts the worker process directly (no wrapper process), so a signal reaches the worker itself. */
async function startWorker(): Promise<void> {
  const logs: string[] = [];
  const child = spawn(
    process.execPath,
    [
      "--conditions=@pulsar-connect/source",
      "--disable-warning=ExperimentalWarning",
      MAIN,
      "worker",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--connectors-dir",
      host,
      "--pulsar-url",
      serviceUrl,
      "--pulsar-admin-url",
      adminUrl,
    ],
    { env: { ...process.env, PULSAR_CONNECT_PREFER_SOURCE: "1" } },
  );
  child.stdout?.on("data", (chunk) => logs.push(String(chunk)));
  child.stderr?.on("data", (chunk) => logs.push(String(chunk)));
  const exit = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  worker = { process: child, exit, logs };
  await until(() => logs.join("").includes('"msg":"worker started"'), 60_000, "worker started");
}

async function killWorker(signal: "SIGKILL" | "SIGTERM"): Promise<number | null> {
  const current = worker;
  if (!current) return null;
  current.process.kill(signal);
  const code = await current.exit;
  worker = undefined;
  return code;
}

async function api(method: string, path: string, body?: unknown) {
  return http(base, method, path, body);
}

function rows(db: string): number {
  // The sink may hold the write lock at this moment: wait for it (busy timeout) rather than fail the read.
  const database = new DatabaseSync(db, { readOnly: true, timeout: 10_000 });
  try {
    return (database.prepare("SELECT count(*) AS n FROM people").get() as { n: number }).n;
  } finally {
    database.close();
  }
}

async function createPipeline(guarantee: Pipeline["guarantee"], parallelism: number, tag: string): Promise<Pipeline> {
  const topic = `persistent://${NAMESPACE}/${tag}`;
  const db = join(dataDir, `${tag}.db`);
  const database = new DatabaseSync(db);
  database.exec(
    "CREATE TABLE people (id INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, email TEXT, age INTEGER, city TEXT, active INTEGER)",
  );
  database.close();
  const pipeline: Pipeline = { guarantee, parallelism, source: `${tag}-gen`, sink: `${tag}-db`, db };
  const sink = await api("POST", `/admin/v3/sinks/${NAMESPACE}/${pipeline.sink}`, {
    sinkType: "jdbc-sqlite",
    inputs: [topic],
    parallelism,
    processingGuarantees: guarantee,
    sourceSubscriptionPosition: "Earliest",
    configs: { jdbcUrl: `jdbc:sqlite:${db}`, tableName: "people", insertMode: "UPSERT" },
  });
  expect(sink.status, sink.text).toBe(204);
  const source = await api("POST", `/admin/v3/sources/${NAMESPACE}/${pipeline.source}`, {
    sourceType: "data-generator",
    topicName: topic,
    parallelism,
    processingGuarantees: guarantee,
    configs: { recordType: "people", ratePerSecond: 20 },
  });
  expect(source.status, source.text).toBe(204);
  pipelines.push(pipeline);
  return pipeline;
}

/** Instances of a connector that report running. */
async function runningInstances(kind: "sinks" | "sources", name: string): Promise<number[]> {
  const status = (await api("GET", `/admin/v3/${kind}/${NAMESPACE}/${name}/status`)).json as {
    instances: Array<{ instanceId: number; status: { running: boolean } }>;
  };
  return status.instances.filter((entry) => entry.status.running).map((entry) => entry.instanceId);
}

const all = (parallelism: number) => Array.from({ length: parallelism }, (_, i) => i);

/** Every pipeline runs all its instances (but the ones the user stopped), and rows keep arriving. */
async function expectEverythingRuns(stoppedSinkInstances: Map<string, number[]>, what: string): Promise<void> {
  const before = new Map(pipelines.map((pipeline) => [pipeline.sink, rows(pipeline.db)]));
  for (const pipeline of pipelines) {
    const stopped = stoppedSinkInstances.get(pipeline.sink) ?? [];
    await until(
      async () =>
        JSON.stringify(await runningInstances("sources", pipeline.source)) ===
          JSON.stringify(all(pipeline.parallelism)) &&
        JSON.stringify(await runningInstances("sinks", pipeline.sink)) ===
          JSON.stringify(all(pipeline.parallelism).filter((id) => !stopped.includes(id))),
      60_000,
      `${what}: ${pipeline.source} and ${pipeline.sink} (${pipeline.guarantee}, parallelism ${pipeline.parallelism}) running`,
    );
  }
  for (const pipeline of pipelines) {
    const start = before.get(pipeline.sink) ?? 0;
    await until(
      () => rows(pipeline.db) > start,
      60_000,
      `${what}: new rows from ${pipeline.source} in ${pipeline.sink}`,
    );
  }
}

beforeAll(async () => {
  host = connectorHost();
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-restart-"));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await admin.createNamespace(NAMESPACE, { ifNotExists: true });
  // EFFECTIVELY_ONCE sources need broker deduplication.
  await admin.setDeduplication(NAMESPACE, true);
});

afterAll(async () => {
  await killWorker("SIGTERM");
  await admin.deleteNamespace(NAMESPACE, { force: true }).catch(() => undefined);
  rmSync(host, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

describe("a worker restart runs exactly what the user last asked for", () => {
  it("restores connectors created since the worker's start after SIGKILL, then after a graceful stop", async () => {
    await startWorker();
    for (const guarantee of GUARANTEES) {
      for (const parallelism of [1, 3])
        await createPipeline(guarantee, parallelism, `${guarantee.toLowerCase()}-${parallelism}`);
    }
    // A connector the user stopped stays stopped, a whole one and a single instance.
    const idle = `${run}-idle`;
    expect(
      (
        await api("POST", `/admin/v3/sources/${NAMESPACE}/${idle}`, {
          sourceType: "data-generator",
          topicName: `persistent://${NAMESPACE}/idle`,
          configs: { ratePerSecond: 1 },
        })
      ).status,
    ).toBe(204);
    expect((await api("POST", `/admin/v3/sources/${NAMESPACE}/${idle}/stop`)).status).toBe(204);
    const stoppedSinkInstances = new Map([["atleast_once-3-db", [2]]]);
    expect((await api("POST", `/admin/v3/sinks/${NAMESPACE}/atleast_once-3-db/2/stop`)).status).toBe(204);
    await expectEverythingRuns(stoppedSinkInstances, "before any restart");

    expect(await killWorker("SIGKILL")).toBeNull();
    await startWorker();
    await expectEverythingRuns(stoppedSinkInstances, "after SIGKILL");
    expect(await runningInstances("sources", idle)).toEqual([]);

    // Created on this worker since its start, then a graceful stop (SIGTERM drains and exits 0).
    await createPipeline("EFFECTIVELY_ONCE", 3, "late-effectively_once-3");
    await expectEverythingRuns(stoppedSinkInstances, "after creating one more");
    expect(await killWorker("SIGTERM")).toBe(0);
    await startWorker();
    await expectEverythingRuns(stoppedSinkInstances, "after a graceful restart");
    expect(await runningInstances("sources", idle)).toEqual([]);
  });

  it("reload runs a changed connector package's new code in the running worker", async () => {
    if (!worker) await startWorker();
    const file = join(dataDir, "probe.txt");
    const topic = `persistent://${NAMESPACE}/probe`;
    const created = await api("POST", `/admin/v3/sinks/${NAMESPACE}/probe`, {
      sinkType: "reload-probe",
      inputs: [topic],
      configs: { path: file },
    });
    expect(created.status, created.text).toBe(204);
    await until(async () => (await runningInstances("sinks", "probe")).length === 1, 30_000, "probe running");
    const client = new PulsarClient({ serviceUrl });
    const producer = await client.createProducer({ topic });
    try {
      await producer.send({ value: "a" });
      await until(() => linesOf(file).includes("v1:a"), 30_000, "v1 wrote a");
      writeProbe(host, "v2");
      const reloaded = await api("POST", "/admin/v3/sinks/reloadBuiltInSinks");
      expect(reloaded.status).toBe(200);
      expect(reloaded.json.changed).toEqual(["sink:reload-probe"]);
      await until(async () => (await runningInstances("sinks", "probe")).length === 1, 30_000, "probe running again");
      await producer.send({ value: "b" });
      await until(() => linesOf(file).some((line) => line.endsWith(":b")), 30_000, "b written");
      expect(linesOf(file)).toContain("v2:b");
    } finally {
      await producer.close();
      await client.close();
    }
  });
});
