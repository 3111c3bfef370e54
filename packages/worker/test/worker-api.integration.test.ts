import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { signToken, Worker } from "../src/index.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { http, testWorkerOptions, until } from "./helpers.ts";

// Upstream's functions-worker API (`/admin/v2/worker/*`, `/admin/v2/worker-stats/*`) on a standalone worker: a
// cluster of one that leads itself and is assigned the instances it runs.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `wa${Date.now().toString(36)}`;
const SECRET = `jwt-${run}-0123456789abcdef0123456789`;
const root = { authorization: `Bearer ${signToken({ sub: "root" }, SECRET)}` };
const team = { authorization: `Bearer ${signToken({ sub: "team" }, SECRET)}` };

let worker: Worker;
let dataDir: string;
let host: string;
const logs: string[] = [];

const api = (method: string, path: string, headers: Record<string, string> = root) =>
  http(worker.url, method, path, undefined, headers);

describe("functions-worker API on a standalone worker", { timeout: 120_000 }, () => {
  const sink = `${run}-sink`;
  const source = `${run}-source`;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-wa-"));
    host = fixtureHost();
    worker = await Worker.start({
      ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
      auth: { jwtSecret: SECRET, superUserRoles: ["root"], tenantRoles: { public: ["team"] } },
    });
  });

  afterAll(async () => {
    await worker?.close();
    for (const dir of [dataDir, host]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists the one worker as the cluster and as its leader, in upstream's WorkerInfo shape", async () => {
    const port = Number(new URL(worker.url).port);
    const self = { workerId: worker.workerId, workerHostname: "127.0.0.1", port };
    const cluster = await api("GET", "/admin/v2/worker/cluster");
    expect(cluster.status).toBe(200);
    expect(cluster.json).toEqual([self]);
    const leader = await api("GET", "/admin/v2/worker/cluster/leader");
    expect(leader.status).toBe(200);
    expect(leader.json).toEqual(self);
    const ready = await api("GET", "/admin/v2/worker/cluster/leader/ready", team);
    expect(ready.status).toBe(200);
    expect(ready.json).toBe(true);
  });

  it("needs a superuser for everything but leader/ready, and a token at all", async () => {
    for (const [method, path] of [
      ["GET", "/admin/v2/worker/cluster"],
      ["GET", "/admin/v2/worker/cluster/leader"],
      ["GET", "/admin/v2/worker/assignments"],
      ["GET", "/admin/v2/worker/connectors"],
      ["PUT", "/admin/v2/worker/rebalance"],
      ["PUT", "/admin/v2/worker/drain"],
      ["GET", "/admin/v2/worker/drain"],
      ["PUT", `/admin/v2/worker/leader/drain?workerId=${worker.workerId}`],
      ["GET", `/admin/v2/worker/leader/drain?workerId=${worker.workerId}`],
      ["GET", "/admin/v2/worker-stats/metrics"],
      ["GET", "/admin/v2/worker-stats/functionsmetrics"],
    ] as const) {
      const refused = await api(method, path, team);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.json.reason).toMatch(/superuser/);
      expect((await api(method, path, {})).status, `${method} ${path} without a token`).toBe(401);
    }
    expect((await api("GET", "/admin/v2/worker/cluster/leader/ready", {})).status).toBe(401);
  });

  it("assigns the worker the instances it runs: started ones, not stopped or deleted ones", async () => {
    expect((await api("GET", "/admin/v2/worker/assignments")).json).toEqual({});
    const created = await http(
      worker.url,
      "POST",
      `/admin/v3/sinks/public/default/${sink}`,
      { sinkType: "test-file", inputs: [`${run}-in`], parallelism: 2, configs: { path: join(dataDir, "out.txt") } },
      root,
    );
    expect(created.status, created.text).toBe(204);
    const both = [`public/default/${sink}:0`, `public/default/${sink}:1`];
    expect((await api("GET", "/admin/v2/worker/assignments")).json).toEqual({ [worker.workerId]: both });
    expect((await api("POST", `/admin/v3/sinks/public/default/${sink}/1/stop`)).status).toBe(204);
    expect((await api("GET", "/admin/v2/worker/assignments")).json).toEqual({
      [worker.workerId]: [`public/default/${sink}:0`],
    });
    expect((await api("DELETE", `/admin/v3/sinks/public/default/${sink}`)).status).toBe(204);
    expect((await api("GET", "/admin/v2/worker/assignments")).json).toEqual({});
  });

  it("refuses rebalance and drain of a single worker as upstream does, and reports no drain", async () => {
    for (const path of [
      "/admin/v2/worker/rebalance",
      "/admin/v2/worker/drain",
      `/admin/v2/worker/leader/drain?workerId=${worker.workerId}`,
      "/admin/v2/worker/leader/drain?workerId=some-other-worker",
    ]) {
      const answer = await api("PUT", path);
      expect(answer.status, path).toBe(400);
      expect(answer.json).toEqual({ reason: "Too few workers (need at least 2)" });
    }
    for (const path of ["/admin/v2/worker/drain", `/admin/v2/worker/leader/drain?workerId=${worker.workerId}`]) {
      const answer = await api("GET", path);
      expect(answer.status, path).toBe(200);
      expect(answer.json).toEqual({ status: "NOT_RUN", lastError: "" });
    }
  });

  it("reports the stats of the instances it runs (function-stats) and its process metrics (monitoring-metrics)", async () => {
    const created = await http(
      worker.url,
      "POST",
      `/admin/v3/sources/public/default/${source}`,
      { sourceType: "test-counter", topicName: `${run}-out`, configs: { count: 7 } },
      root,
    );
    expect(created.status, created.text).toBe(204);
    const name = `public/default/${source}:0`;
    await until(async () => {
      const stats = (await api("GET", "/admin/v2/worker-stats/functionsmetrics")).json;
      return stats?.find((entry: { name: string }) => entry.name === name)?.metrics.processedSuccessfullyTotal === 7;
    });
    const stats = (await api("GET", "/admin/v2/worker-stats/functionsmetrics")).json;
    expect(stats).toEqual([
      {
        name,
        metrics: {
          receivedTotal: 7,
          processedSuccessfullyTotal: 7,
          systemExceptionsTotal: 0,
          userExceptionsTotal: 0,
          avgProcessLatency: null,
          "1min": expect.objectContaining({ systemExceptionsTotal: 0, userExceptionsTotal: 0 }),
          lastInvocation: expect.any(Number),
          userMetrics: {},
        },
      },
    ]);
    const metrics = (await api("GET", "/admin/v2/worker-stats/metrics")).json;
    expect(metrics).toEqual([
      {
        dimensions: { system: "nodejs", cluster: "standalone" },
        metrics: expect.objectContaining({ process_resident_memory_bytes: expect.any(Number) }),
      },
      {
        dimensions: { system: "worker", cluster: "standalone", workerId: worker.workerId },
        metrics: { worker_instances_assigned: 1, worker_instances_running: expect.any(Number), worker_members: 1 },
      },
    ]);
    expect(metrics[0].metrics.process_resident_memory_bytes).toBeGreaterThan(0);
    expect((await api("DELETE", `/admin/v3/sources/public/default/${source}`)).status).toBe(204);
    expect((await api("GET", "/admin/v2/worker-stats/functionsmetrics")).json).toEqual([]);
  });

  it("lists the installed connectors as upstream's ConnectorDefinition list", async () => {
    const connectors = (await api("GET", "/admin/v2/worker/connectors")).json as Record<string, unknown>[];
    expect(connectors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "test-file", sinkClass: "fixture-file-sink" }),
        expect.objectContaining({ name: "test-counter", sourceClass: "fixture-counter-source" }),
      ]),
    );
  });

  it("answers 404 naming the request for a path or method upstream does not have", async () => {
    const unknown = await api("GET", "/admin/v2/worker/nothing");
    expect(unknown.status).toBe(404);
    expect(unknown.json.reason).toBe("No such endpoint: GET /admin/v2/worker/nothing");
    expect((await api("POST", "/admin/v2/worker/rebalance")).status).toBe(404);
  });
});
