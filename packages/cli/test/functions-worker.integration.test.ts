import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signToken, Worker } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fixtureHost } from "../../worker/test/fixtures/host.ts";
import { testWorkerOptions, until } from "../../worker/test/helpers.ts";
import { runCli } from "../src/internal/program.ts";

// `pulsar-connect functions-worker <verb>` and `pulsar-connect cluster status` against a standalone worker.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `fw${Date.now().toString(36)}`;
const SECRET = `jwt-${run}-0123456789abcdef0123456789`;
const ROOT = signToken({ sub: "root" }, SECRET);
const TEAM = signToken({ sub: "team" }, SECRET);

let worker: Worker;
let dataDir: string;
let host: string;
const logs: string[] = [];

async function cli(args: string[], options: { token?: string; tty?: boolean; url?: string } = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["--admin-url", options.url ?? worker.url, "--token", options.token ?? ROOT, ...args], {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  });
  return { code, stdout, stderr };
}

describe("functions-worker and cluster status", { timeout: 120_000 }, () => {
  const sink = `${run}-sink`;
  const instances = [`public/default/${sink}:0`, `public/default/${sink}:1`];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-fw-"));
    host = fixtureHost();
    worker = await Worker.start({
      ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
      auth: { jwtSecret: SECRET, superUserRoles: ["root"], tenantRoles: { public: ["team"] } },
    });
    const created = await cli([
      "sinks",
      "create",
      "--name",
      sink,
      "--sink-type",
      "test-file",
      "--inputs",
      `${run}-in`,
      "--parallelism",
      "2",
      "--sink-config",
      JSON.stringify({ path: join(dataDir, "out.txt") }),
    ]);
    expect(created.code, created.stderr).toBe(0);
  });

  afterAll(async () => {
    await worker?.close();
    for (const dir of [dataDir, host]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("cluster status: a table of workers with the leader and instance counts, then the assignments", async () => {
    const status = await cli(["cluster", "status"], { tty: true });
    expect(status.code, status.stderr).toBe(0);
    const port = new URL(worker.url).port;
    const lines = status.stdout.split("\n");
    expect(lines[0]).toBe(`workers: 1, leader: ${worker.workerId}, instances assigned: 2`);
    expect(lines[1]).toMatch(/^WORKER\s+HOST\s+PORT\s+LEADER\s+INSTANCES$/);
    expect(lines[2]?.split(/\s+/)).toEqual([worker.workerId, "127.0.0.1", port, "yes", "2"]);
    expect(lines[3]).toBe("");
    expect(lines[4]).toMatch(/^WORKER\s+INSTANCE$/);
    expect(lines.slice(5, 7).map((line) => line.split(/\s+/))).toEqual(
      instances.map((instance) => [worker.workerId, instance]),
    );
    const json = await cli(["--output", "json", "cluster", "status"]);
    const self = { workerId: worker.workerId, workerHostname: "127.0.0.1", port: Number(port) };
    expect(JSON.parse(json.stdout)).toEqual({
      workers: [self],
      leader: self,
      assignments: { [worker.workerId]: instances },
    });
  });

  it("functions-worker get-cluster, get-cluster-leader, get-function-assignments: tables and JSON", async () => {
    const cluster = await cli(["functions-worker", "get-cluster"], { tty: true });
    expect(cluster.stdout.split("\n")[1]?.split(/\s+/)).toEqual([
      worker.workerId,
      "127.0.0.1",
      new URL(worker.url).port,
    ]);
    const leader = await cli(["--output", "json", "functions-worker", "get-cluster-leader"]);
    expect(JSON.parse(leader.stdout).workerId).toBe(worker.workerId);
    const assignments = await cli(["functions-worker", "get-function-assignments"]);
    // Piped: as pulsar-admin prints a map.
    expect(assignments.stdout).toBe(`${worker.workerId}    [${instances.join(", ")}]\n`);
    const table = await cli(["functions-worker", "get-function-assignments"], { tty: true });
    expect(table.stdout).toMatch(new RegExp(`^WORKER\\s+INSTANCE\\n${worker.workerId}\\s+${instances[0]}\\n`));
  });

  it("functions-worker function-stats and monitoring-metrics", async () => {
    const stats = await cli(["--output", "json", "functions-worker", "function-stats"]);
    expect(JSON.parse(stats.stdout).map((entry: { name: string }) => entry.name)).toEqual(instances);
    const table = await cli(["functions-worker", "function-stats"], { tty: true });
    expect(table.stdout).toMatch(
      /^INSTANCE\s+RECEIVED\s+PROCESSED\s+SYSTEM ERRORS\s+CONNECTOR ERRORS\s+LAST RECEIVED\n/,
    );
    expect(table.stdout).toContain(instances[1]);
    const metrics = await cli(["functions-worker", "monitoring-metrics"], { tty: true });
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toMatch(/^DIMENSIONS\s+METRIC\s+VALUE\n/);
    expect(metrics.stdout).toMatch(/system=worker,cluster=standalone,workerId=\S+\s+worker_instances_assigned\s+2\n/);
    const piped = await cli(["functions-worker", "monitoring-metrics"]);
    expect(JSON.parse(piped.stdout)[0].dimensions).toEqual({ system: "nodejs", cluster: "standalone" });
  });

  it("rebalance and drain of a single worker fail with the worker's reason; drain-status says NOT_RUN", async () => {
    for (const args of [["rebalance"], ["drain"], ["drain", "--worker-id", worker.workerId]]) {
      const refused = await cli(["functions-worker", ...args]);
      expect(refused.code, args.join(" ")).toBe(1);
      expect(refused.stderr).toContain("Too few workers (need at least 2)");
      expect(refused.stdout).toBe("");
    }
    const status = await cli(["functions-worker", "drain-status", "--worker-id", worker.workerId], { tty: true });
    expect(status.stdout).toBe("NOT_RUN\n");
    const json = await cli(["--output", "json", "functions-worker", "drain-status"]);
    expect(JSON.parse(json.stdout)).toEqual({ status: "NOT_RUN", lastError: "" });
  });

  it("a role that is not a superuser is refused with the reason and a hint", async () => {
    for (const args of [
      ["cluster", "status"],
      ["functions-worker", "get-cluster"],
    ]) {
      const refused = await cli(args, { token: TEAM });
      expect(refused.code, args.join(" ")).toBe(4);
      expect(refused.stderr).toContain("Role 'team' is not a superuser");
      expect(refused.stderr).toContain("superuser role for reload, functions-worker and cluster");
    }
  });

  it("follows a worker's 307 to its leader (a redirecting stand-in for a worker that is not the leader)", async () => {
    const paths: string[] = [];
    const follower: Server = createServer((request, response) => {
      paths.push(`${request.method} ${request.url}`);
      response.writeHead(307, { location: `${worker.url}${request.url}` });
      response.end();
    });
    await new Promise<void>((done) => follower.listen(0, "127.0.0.1", done));
    try {
      const url = `http://127.0.0.1:${(follower.address() as AddressInfo).port}`;
      const drained = await cli(["functions-worker", "drain-status"], { url });
      expect(paths).toEqual(["GET /admin/v2/worker/drain"]);
      expect(JSON.parse(drained.stdout)).toEqual({ status: "NOT_RUN", lastError: "" });
      const rebalance = await cli(["functions-worker", "rebalance"], { url });
      expect(paths).toEqual(["GET /admin/v2/worker/drain", "PUT /admin/v2/worker/rebalance"]);
      expect(rebalance.stderr).toContain("Too few workers (need at least 2)");
    } finally {
      await new Promise((done) => follower.close(done));
    }
  });

  it("after the sink is deleted nothing is assigned", async () => {
    expect((await cli(["sinks", "delete", "--name", sink])).code).toBe(0);
    await until(async () => (await cli(["functions-worker", "get-function-assignments"])).stdout === "");
    const status = await cli(["cluster", "status"], { tty: true });
    expect(status.stdout).toContain("instances assigned: 0");
    expect(status.stdout).toContain("no instances assigned");
  });
});
