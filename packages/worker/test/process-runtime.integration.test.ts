// The process runtime: each instance in a Node process of its own, supervised by the worker. A connector that exits,
// throws outside any promise, crashes natively, fills its heap or blocks its event loop ends only its own process,
// which the supervisor restarts; the other instances keep moving data. Status, counters and logs of an instance
// process reach the worker; resources.ram and runtimeFlags become the process's Node flags.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { fixtureHost, MISBEHAVING_SOURCE } from "./fixtures/host.ts";
import { http, instanceProcesses, linesOf, processFlags, testWorkerOptions, until } from "./helpers.ts";

const services = inject("services");
if (services.pulsar === undefined) throw new Error("test/services.json must list pulsar");
const { serviceUrl, webServiceUrl: adminUrl } = services.pulsar;
const run = `p${Date.now().toString(36)}`;
const SOURCES = "/admin/v3/sources/public/default";
const SINKS = "/admin/v3/sinks/public/default";
const MiB = 1024 * 1024;

let dataDir: string;
let host: string;
let outDir: string;
let worker: Worker;
const logs: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-process-"));
  outDir = mkdtempSync(join(tmpdir(), "pulsar-connect-process-out-"));
  host = fixtureHost(MISBEHAVING_SOURCE);
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
    runtime: "process",
    heartbeatTimeoutMs: 4_000,
    backoff: { initialMs: 1_500, maxMs: 3_000 },
    stopTimeoutMs: 5_000,
  });
});

afterAll(async () => {
  await worker?.close();
  expect(instanceProcesses(`source:public/default/${run}`), "no instance process outlives the worker").toEqual([]);
  expect(instanceProcesses(`sink:public/default/${run}`), "no instance process outlives the worker").toEqual([]);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: status answers are read loosely
async function status(kind: "sources" | "sinks", name: string): Promise<any> {
  const path = kind === "sources" ? SOURCES : SINKS;
  const answer = await http(worker.url, "GET", `${path}/${name}/0/status`);
  expect(answer.status, answer.text).toBe(200);
  return answer.json;
}

describe("process runtime: a broken connector harms no other instance", () => {
  const failures = [
    { mode: "exit", error: /instance process exited with code 3/ },
    { mode: "throw", error: /uncaught exception: connector bug outside any promise/ },
    { mode: "segv", error: /instance process killed by SIGSEGV/ },
    { mode: "leak", error: /ran out of memory \(heap limit 64 MiB from resources\.ram\)/, ram: 64 * MiB },
    { mode: "block", error: /no heartbeat from the instance process for \d+s \(event loop blocked or hung\); killed/ },
  ];

  it("each failure is restarted with its reason in status while a healthy source keeps writing", {
    timeout: 90_000,
  }, async () => {
    const healthy = `${run}-healthy`;
    const created = await http(worker.url, "POST", `${SOURCES}/${healthy}`, {
      archive: "builtin://test-counter",
      topicName: `${run}-healthy-out`,
      configs: { count: 0, intervalMs: 5 },
    });
    expect(created.status, created.text).toBe(204);
    await until(async () => (await status("sources", healthy)).numWritten > 0, 30_000, "the healthy source writes");
    const [healthyPid] = instanceProcesses(`source:public/default/${healthy}:0`);
    expect(healthyPid).toBeGreaterThan(0);
    const writtenBefore = (await status("sources", healthy)).numWritten as number;

    for (const failure of failures) {
      const answer = await http(worker.url, "POST", `${SOURCES}/${run}-${failure.mode}`, {
        archive: "builtin://test-misbehaving",
        topicName: `${run}-${failure.mode}-out`,
        configs: { mode: failure.mode, after: 20 },
        ...(failure.ram ? { resources: { ram: failure.ram } } : {}),
      });
      expect(answer.status, answer.text).toBe(204);
    }
    for (const failure of failures) {
      const name = `${run}-${failure.mode}`;
      // biome-ignore lint/suspicious/noExplicitAny: status answers are read loosely
      let seen: any;
      await until(
        async () => {
          seen = await status("sources", name);
          return failure.error.test(seen.error);
        },
        45_000,
        `${failure.mode}: status shows why the process ended`,
      );
      await until(async () => (await status("sources", name)).numRestarts >= 1, 15_000, `${failure.mode} restarted`);
    }
    // The connector's own log lines reach the worker's log, with the instance's fqfn and the process's pid.
    const opened = logs.filter((line) => line.includes("misbehaving source opened"));
    expect(opened.some((line) => line.includes(`"fqfn":"public/default/${run}-exit"`))).toBe(true);
    const after = await status("sources", healthy);
    expect(after.numRestarts, "the healthy source never restarted").toBe(0);
    expect(after.running).toBe(true);
    expect(instanceProcesses(`source:public/default/${healthy}:0`), "the same healthy process").toEqual([healthyPid]);
    // While the others broke, restarted and broke again, the healthy one kept sending.
    await until(
      async () => (await status("sources", healthy)).numWritten > writtenBefore + 500,
      30_000,
      "the healthy source keeps writing",
    );
    for (const failure of failures) await http(worker.url, "DELETE", `${SOURCES}/${run}-${failure.mode}`);
    await http(worker.url, "DELETE", `${SOURCES}/${healthy}`);
    await until(() => instanceProcesses(`source:public/default/${run}`).length === 0, 20_000, "processes end");
  });
});

describe("process runtime: the worker sees and controls its instance processes", () => {
  it("runs a sink with ram as heap limit and runtimeFlags; status, metrics, logs, get, stop and start work", {
    timeout: 60_000,
  }, async () => {
    const name = `${run}-sink`;
    const input = `persistent://public/default/${run}-sink-in`;
    const path = join(outDir, "records.jsonl");
    const created = await http(worker.url, "POST", `${SINKS}/${name}`, {
      archive: "builtin://test-records",
      inputs: [input],
      sourceSubscriptionPosition: "Earliest",
      resources: { ram: 96 * MiB, cpu: 0.5, disk: 1_000_000 },
      runtimeFlags: "--stack-trace-limit=42",
      configs: { path },
    });
    expect(created.status, created.text).toBe(200);
    const warned = (created.json.warnings as Array<{ field: string }>).map((warning) => warning.field).sort();
    expect(warned, "cpu and disk are recorded, ram is enforced").toEqual(["resources.cpu", "resources.disk"]);

    const client = new PulsarClient({ serviceUrl });
    const producer = await client.createProducer({ topic: input });
    for (let i = 0; i < 50; i += 1) await producer.send({ value: Buffer.from(`m-${i}`) });
    await producer.close();
    await client.close();
    await until(() => linesOf(path).length >= 50, 30_000, "the sink writes every message");
    await until(async () => (await status("sinks", name)).numWrittenToSink >= 50, 10_000, "status counts the writes");
    const running = await status("sinks", name);
    expect(running).toMatchObject({ running: true, numRestarts: 0, numReadFromPulsar: 50, error: "" });

    const [pid] = instanceProcesses(`sink:public/default/${name}:0`);
    expect(pid).toBeDefined();
    expect(processFlags(pid as number)).toEqual(
      expect.arrayContaining(["--max-old-space-size=96", "--stack-trace-limit=42"]),
    );
    // The worker's own event loop stalls longer than the heartbeat timeout (as in a long GC pause): the instance
    // process's heartbeats wait unread meanwhile, and it must not be taken for blocked.
    const stallUntil = Date.now() + 5_500;
    while (Date.now() < stallUntil) {
      // Busy on purpose: the worker runs in this process.
    }
    await new Promise((done) => setImmediate(done));
    await until(async () => (await status("sinks", name)).running === true, 5_000, "still running after the stall");
    expect((await status("sinks", name)).numRestarts, "no restart after the worker's stall").toBe(0);
    expect(instanceProcesses(`sink:public/default/${name}:0`)).toEqual([pid]);
    const metrics = await http(worker.url, "GET", "/metrics");
    expect(metrics.text).toMatch(new RegExp(`pulsar_sink_written_total\\{[^}]*name="${name}"[^}]*\\} 50`));

    const shown = await http(worker.url, "GET", `${SINKS}/${name}`);
    expect(shown.json).toMatchObject({
      resources: { ram: 96 * MiB, cpu: 0.5, disk: 1_000_000 },
      runtimeFlags: "--stack-trace-limit=42",
    });

    expect((await http(worker.url, "POST", `${SINKS}/${name}/stop`)).status).toBe(204);
    expect(instanceProcesses(`sink:public/default/${name}:0`), "stop ends the process").toEqual([]);
    expect(await status("sinks", name)).toMatchObject({ running: false, numWrittenToSink: 50 });
    expect((await http(worker.url, "POST", `${SINKS}/${name}/start`)).status).toBe(204);
    await until(async () => (await status("sinks", name)).running === true, 20_000, "start runs it again");
    const [again] = instanceProcesses(`sink:public/default/${name}:0`);
    expect(again).not.toBe(pid);
    expect((await status("sinks", name)).numWrittenToSink, "counters survive the restart").toBe(50);
    expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });

  it("refuses runtime settings the chosen runtime cannot honour, naming the field", async () => {
    const base = { archive: "builtin://test-counter", topicName: `${run}-refused-out`, configs: { count: 1 } };
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { runtimeFlags: "--stack-trace-limit=5", customRuntimeOptions: '{"runtime":"in-process"}' },
        "runtimeFlags: is not supported by the in-process runtime",
      ],
      [{ customRuntimeOptions: '{"runtime":"thread"}' }, "customRuntimeOptions.runtime: 'thread' is not a runtime"],
      [{ customRuntimeOptions: '{"jobNamespace":"x"}' }, "customRuntimeOptions.jobNamespace: is not supported"],
      [{ resources: { ram: 1024 } }, "resources.ram: 1024 bytes is below the process runtime's minimum heap"],
      [{ runtimeFlags: "--inspect=9229" }, "runtimeFlags: '--inspect=9229' is refused: opens a debugger port"],
    ];
    for (const [extra, reason] of cases) {
      const answer = await http(worker.url, "POST", `${SOURCES}/${run}-refused`, { ...base, ...extra });
      expect(answer.status, JSON.stringify(extra)).toBe(400);
      expect(answer.json.reason).toContain(reason);
    }
  });

  it("an update moves a connector between runtimes", { timeout: 40_000 }, async () => {
    const name = `${run}-moved`;
    const config = {
      archive: "builtin://test-counter",
      topicName: `${run}-moved-out`,
      configs: { count: 0, intervalMs: 20 },
    };
    const inline = await http(worker.url, "POST", `${SOURCES}/${name}`, {
      ...config,
      customRuntimeOptions: '{"runtime":"in-process"}',
    });
    expect(inline.status, inline.text).toBe(204);
    await until(async () => (await status("sources", name)).numWritten > 0, 20_000, "the source writes in-process");
    expect(instanceProcesses(`source:public/default/${name}:`)).toEqual([]);
    const moved = await http(worker.url, "PUT", `${SOURCES}/${name}`, {
      ...config,
      customRuntimeOptions: '{"runtime":"process"}',
    });
    expect(moved.status, moved.text).toBe(204);
    await until(() => instanceProcesses(`source:public/default/${name}:0`).length === 1, 20_000, "a process runs it");
    const before = (await status("sources", name)).numWritten as number;
    await until(async () => (await status("sources", name)).numWritten > before + 20, 20_000, "it keeps writing");
    expect((await http(worker.url, "DELETE", `${SOURCES}/${name}`)).status).toBe(204);
    expect(instanceProcesses(`source:public/default/${name}:`)).toEqual([]);
  });

  it("a stored connector whose runtime flags the restarted worker's runtime cannot honour says so", {
    timeout: 40_000,
  }, async () => {
    const ownData = mkdtempSync(join(tmpdir(), "pulsar-connect-process-restore-"));
    const name = `${run}-restored`;
    const options = testWorkerOptions({ dataDir: ownData, hostDir: host, serviceUrl, adminUrl, logs });
    const first = await Worker.start({ ...options, runtime: "process" });
    try {
      const created = await http(first.url, "POST", `${SOURCES}/${name}`, {
        archive: "builtin://test-counter",
        topicName: `${run}-restored-out`,
        runtimeFlags: "--stack-trace-limit=20",
        configs: { count: 0, intervalMs: 50 },
      });
      expect(created.status, created.text).toBe(204);
    } finally {
      await first.close();
    }
    const second = await Worker.start({ ...options, runtime: "in-process" });
    try {
      await until(
        async () => {
          const answer = await http(second.url, "GET", `${SOURCES}/${name}/0/status`);
          return (
            answer.json.running === false &&
            answer.json.error.includes("runtimeFlags: is not supported by the in-process runtime")
          );
        },
        20_000,
        "status says why the restored instance cannot run",
      );
    } finally {
      await second.close();
      rmSync(ownData, { recursive: true, force: true });
    }
  });

  it("a connector may ask for the in-process runtime on a process worker", { timeout: 30_000 }, async () => {
    const name = `${run}-inline`;
    const answer = await http(worker.url, "POST", `${SOURCES}/${name}`, {
      archive: "builtin://test-counter",
      topicName: `${run}-inline-out`,
      customRuntimeOptions: '{"runtime":"in-process"}',
      resources: { ram: 64 * MiB },
      configs: { count: 30 },
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.warnings.map((warning: { field: string }) => warning.field)).toEqual(["resources.ram"]);
    await until(async () => (await status("sources", name)).numWritten === 30, 20_000, "the source writes");
    expect(instanceProcesses(`source:public/default/${name}`)).toEqual([]);
    await http(worker.url, "DELETE", `${SOURCES}/${name}`);
  });
});
