// SIGKILL and the process runtime. A worker killed with SIGKILL leaves no instance process behind (each one exits
// when its IPC channel to the worker closes). An instance process killed with SIGKILL mid-stream is restarted by the
// supervisor, and a sink at EFFECTIVELY_ONCE still ends with exactly the input rows.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { http, instanceProcesses, listeningUrl, subscriptionStats, testWorkerOptions, until } from "./helpers.ts";

const services = inject("services");
if (services.pulsar === undefined) throw new Error("test/services.json must list pulsar");
const { serviceUrl, webServiceUrl: adminUrl } = services.pulsar;
const run = `k${Date.now().toString(36)}`;
const workDir = mkdtempSync(join(tmpdir(), "pulsar-connect-process-kill-"));
const spawned: ChildProcess[] = [];

afterAll(() => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(workDir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  return instanceProcesses("").includes(pid);
}

describe("a worker killed with SIGKILL", () => {
  let host: string;
  beforeAll(() => {
    host = fixtureHost();
  });
  afterAll(() => rmSync(host, { recursive: true, force: true }));

  it("leaves no instance process running", { timeout: 60_000 }, async () => {
    const child = spawn(
      process.execPath,
      ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/run-worker.ts")],
      {
        env: {
          ...process.env,
          PC_WORKER_OPTIONS: JSON.stringify({
            port: 0,
            dataDir: join(workDir, "orphans"),
            hostDirs: [host],
            pulsarServiceUrl: serviceUrl,
            pulsarAdminUrl: adminUrl,
            runtime: "process",
          }),
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    spawned.push(child);
    const url = await listeningUrl(child);
    const name = `${run}-orphans`;
    const created = await http(url, "POST", `/admin/v3/sources/public/default/${name}`, {
      archive: "builtin://test-counter",
      topicName: `${run}-orphans-out`,
      parallelism: 3,
      configs: { count: 0, intervalMs: 50 },
    });
    expect(created.status, created.text).toBe(204);
    const label = `source:public/default/${name}:`;
    await until(
      async () => {
        const answer = await http(url, "GET", `/admin/v3/sources/public/default/${name}/status`);
        return answer.json?.numRunning === 3;
      },
      30_000,
      "three running instances",
    );
    const pids = instanceProcesses(label);
    expect(pids).toHaveLength(3);
    const killed = new Promise((done) => child.once("exit", (_code, signal) => done(signal)));
    child.kill("SIGKILL");
    expect(await killed).toBe("SIGKILL");
    await until(() => pids.every((pid) => !alive(pid)), 15_000, "every instance process exits");
  });
});

describe("an instance process killed with SIGKILL mid-stream", () => {
  const count = 20_000;
  const dbFile = join(workDir, "orders.db");
  const db = new Database(dbFile);
  const logs: string[] = [];
  let worker: Worker;

  beforeAll(async () => {
    worker = await Worker.start({
      ...testWorkerOptions({
        dataDir: join(workDir, "eo"),
        hostDir: join(import.meta.dirname, ".."),
        serviceUrl,
        adminUrl,
        logs,
      }),
      preferSource: true,
      runtime: "process",
      backoff: { initialMs: 300, maxMs: 1_000 },
    });
  });
  afterAll(async () => {
    await worker?.close();
    db.close();
  });

  it("is restarted, and EFFECTIVELY_ONCE ends with exactly the input rows", { timeout: 180_000 }, async () => {
    const table = `eo_${run}`;
    db.exec(`CREATE TABLE ${table} (id INTEGER NOT NULL, name TEXT)`);
    const rows = () => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    // Polled closely: the sink writes thousands of rows a second, and the kill must land before the end.
    const rowsReach = async (wanted: number) => {
      const deadline = Date.now() + 120_000;
      while (rows() < wanted) {
        if (Date.now() > deadline) throw new Error(`${wanted} rows not written within 120 s`);
        await new Promise((done) => setTimeout(done, 5));
      }
    };
    const topic = `persistent://public/default/${run}-eo`;
    const client = new PulsarClient({ serviceUrl });
    const producer = await client.createProducer({ topic });
    for (let first = 0; first < count; first += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          producer.send({ value: Buffer.from(JSON.stringify({ id: first + i, name: `order ${first + i}` })) }),
        ),
      );
    }
    await producer.close();
    await client.close();

    const name = `${run}-eo`;
    const created = await http(worker.url, "POST", `/admin/v3/sinks/public/default/${name}`, {
      archive: "builtin://jdbc-sqlite",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      processingGuarantees: "EFFECTIVELY_ONCE",
      configs: { jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: table },
    });
    expect(created.status, created.text).toBeLessThan(300);
    const label = `sink:public/default/${name}:0`;
    for (const share of [0.2, 0.4]) {
      await rowsReach(count * share);
      // After the first kill the worker starts a new instance process; on a loaded machine the lookup may come
      // before it shows in the process table.
      await until(() => instanceProcesses(label).length > 0, 30_000, "the sink's instance process");
      const [pid] = instanceProcesses(label);
      expect(pid, "the sink runs in an instance process").toBeDefined();
      process.kill(pid as number, "SIGKILL");
      await until(() => !alive(pid as number), 10_000, "the killed process is gone");
      expect(rows(), "the kill lands mid-stream").toBeLessThan(count);
    }
    await rowsReach(count);
    await until(
      async () => (await subscriptionStats(adminUrl, `${run}-eo`, `public/default/${name}`))?.msgBacklog === 0,
      60_000,
      "every message acknowledged",
    );
    const status = (await http(worker.url, "GET", `/admin/v3/sinks/public/default/${name}/0/status`)).json;
    expect(status.numRestarts, "the supervisor restarted the killed process twice").toBeGreaterThanOrEqual(2);
    expect(status.running).toBe(true);
    expect(
      db
        .prepare(`SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high FROM ${table}`)
        .get(),
    ).toEqual({ n: count, ids: count, low: 0, high: count - 1 });
    await http(worker.url, "DELETE", `/admin/v3/sinks/public/default/${name}`);
  });
});
