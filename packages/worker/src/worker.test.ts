import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConnectorInstance,
  InstanceStats,
  type SinkInstanceOptions,
  type SinkInstanceStatusData,
  type SourceInstanceOptions,
} from "@pulsar-connect/runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixtureHost } from "../test/fixtures/host.ts";
import { signToken } from "./internal/auth.ts";
import { Worker, type WorkerOptions } from "./worker.ts";

// These tests replace the runtime's instance factory with a stand-in (no broker involved): they check the
// worker's API, store and supervision. The same paths run against a real broker in test/*.integration.test.ts.
class StandInInstance implements ConnectorInstance {
  readonly kind: "sink" | "source";
  readonly instanceId: number;
  readonly stats: InstanceStats = new InstanceStats();
  readonly done: Promise<void>;
  readonly options: SinkInstanceOptions | SourceInstanceOptions;
  stopped = false;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly failStart: boolean;

  constructor(options: SinkInstanceOptions | SourceInstanceOptions, failStart: boolean) {
    this.options = options;
    this.kind = options.kind;
    this.instanceId = options.instanceId;
    this.failStart = failStart;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  async start(): Promise<void> {
    if (this.failStart) throw new Error("connection refused by the stand-in");
  }

  async stop(): Promise<void> {
    if (hangStops) return new Promise<void>(() => {});
    this.stopped = true;
    this.settle.resolve();
  }

  crash(message: string): void {
    this.settle.reject(new Error(message));
  }

  status(): SinkInstanceStatusData {
    return {
      running: !this.stopped,
      error: "",
      numRestarts: 0,
      numReadFromPulsar: this.stats.received,
      numSystemExceptions: 0,
      latestSystemExceptions: [],
      numSinkExceptions: 0,
      latestSinkExceptions: [],
      numWrittenToSink: this.stats.written,
      lastReceivedTime: 0,
      workerId: "",
      stalled: false,
      state: "",
    };
  }
}

let dataDir: string;
let host: string;
let worker: Worker | undefined;
let created: StandInInstance[];
let logLines: string[];
let failStarts: boolean;
let hangStops = false;

async function startWorker(extra: Partial<WorkerOptions> = {}): Promise<Worker> {
  worker = await Worker.start({
    port: 0,
    dataDir,
    hostDirs: [host],
    createPulsarClient: () => ({}) as never,
    createInstance: (options) => {
      const instance = new StandInInstance(options, failStarts);
      created.push(instance);
      return instance;
    },
    logDestination: { write: (line: string) => logLines.push(line) },
    backoff: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
    ...extra,
  });
  return worker;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: test answers are read loosely
): Promise<{ status: number; json: any; text: string }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof FormData) init.body = body;
    else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
  }
  const response = await fetch(`${worker?.url}${path}`, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

const SINKS = "/admin/v3/sinks/public/default";

function sinkConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    archive: "builtin://test-file",
    inputs: ["unit-in"],
    configs: { path: "/tmp/never-written", password: "hunter2-very-secret" },
    ...overrides,
  };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((done) => setTimeout(done, 20));
  }
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-worker-"));
  host = fixtureHost();
  created = [];
  logLines = [];
  failStarts = false;
  hangStops = false;
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

describe("worker admin API", () => {
  it("moves on when an instance does not stop within stopTimeoutMs; operations after a delete get 404", async () => {
    await startWorker({ stopTimeoutMs: 100 });
    await call("POST", `${SINKS}/h1`, sinkConfig());
    await until(() => created.length === 1);
    hangStops = true;
    const started = Date.now();
    expect((await call("POST", `${SINKS}/h1/stop`)).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(logLines.join("")).toContain("did not stop within 0.1s and cannot be closed forcibly; abandoned");
    // Start again, then delete while the instance hangs in stop (the delete holds the connector for 100 ms):
    // a start queued behind the delete must not bring the connector back.
    expect((await call("POST", `${SINKS}/h1/start`)).status).toBe(204);
    await until(() => created.length === 2);
    const deleting = call("DELETE", `${SINKS}/h1`);
    await new Promise((done) => setTimeout(done, 30));
    const restarted = await call("POST", `${SINKS}/h1/start`);
    const deleted = await deleting;
    hangStops = false;
    expect(deleted.status).toBe(204);
    expect(restarted.status).toBe(404);
    expect((await call("GET", SINKS)).json).toEqual([]);
  });

  it("creates a sink with upstream defaults and hides sensitive values", async () => {
    await startWorker();
    const create = await call("POST", `${SINKS}/s1`, sinkConfig({ secrets: { token: "tok-abcdef-123" } }));
    expect(create.status).toBe(204);
    const get = await call("GET", `${SINKS}/s1`);
    expect(get.status).toBe(200);
    expect(get.json).toMatchObject({
      tenant: "public",
      namespace: "default",
      name: "s1",
      parallelism: 1,
      processingGuarantees: "ATLEAST_ONCE",
      sourceSubscriptionName: "public/default/s1",
      inputs: ["persistent://public/default/unit-in"],
      configs: { path: "/tmp/never-written", password: "********" },
      secrets: { token: "********" },
    });
    expect(get.text).not.toContain("hunter2-very-secret");
    expect(get.text).not.toContain("tok-abcdef-123");
    await until(() => created.length === 1);
    expect(((created[0] as StandInInstance).options.config.configs as Record<string, unknown>).password).toBe(
      "hunter2-very-secret",
    );
    const list = await call("GET", SINKS);
    expect(list.json).toEqual(["s1"]);
    const status = await call("GET", `${SINKS}/s1/status`);
    expect(status.json).toMatchObject({ numInstances: 1, numRunning: 1, instances: [{ instanceId: 0 }] });
    expect(logLines.join("")).not.toContain("hunter2-very-secret");
    const again = await call("POST", `${SINKS}/s1`, sinkConfig());
    expect(again.status).toBe(400);
    expect(again.json.reason).toBe("Sink s1 already exists");
  });

  it("refuses a source named like a sink of the same namespace, and the other way round, as upstream", async () => {
    await startWorker();
    expect((await call("POST", `${SINKS}/shared-name`, sinkConfig())).status).toBe(204);
    const source = await call("POST", "/admin/v3/sources/public/default/shared-name", {
      archive: "builtin://test-counter",
      topicName: "persistent://public/default/unit-out",
    });
    expect(source.status).toBe(400);
    expect(source.json.reason).toBe("Source shared-name already exists");
    expect(
      (
        await call("POST", "/admin/v3/sources/public/default/only-source", {
          archive: "builtin://test-counter",
          topicName: "persistent://public/default/unit-out",
        })
      ).status,
    ).toBe(204);
    const sink = await call("POST", `${SINKS}/only-source`, sinkConfig());
    expect(sink.status).toBe(400);
    expect(sink.json.reason).toBe("Sink only-source already exists");
  });

  it("accepts multipart with sinkConfig and url parts, on the singular path too, and refuses an upload that is no npm tarball", async () => {
    await startWorker();
    const form = new FormData();
    form.set("url", "builtin://test-file");
    form.set("sinkConfig", JSON.stringify({ inputs: ["unit-in"], configs: { path: "/tmp/x" } }));
    expect((await call("POST", "/admin/v3/sink/public/default/m1", form)).status).toBe(204);
    expect((await call("GET", "/admin/v3/sink/public/default/m1")).json.archive).toBe("builtin://test-file");
    const upload = new FormData();
    upload.set("sinkConfig", JSON.stringify({ inputs: ["unit-in"], configs: { path: "/tmp/x" } }));
    upload.set("data", new Blob([new Uint8Array([1, 2, 3])]), "connector.nar");
    const refused = await call("POST", "/admin/v3/sinks/public/default/m2", upload);
    expect(refused.status).toBe(400);
    expect(refused.json.reason).toContain("not a gzip'd tar file");
  });

  it("answers 400 with every field issue, 404 for unknown sinks, 400 for malformed JSON", async () => {
    await startWorker();
    const invalid = await call(
      "POST",
      `${SINKS}/bad`,
      sinkConfig({ parallelism: 0, configs: { password: "p4ssw0rd-x" } }),
    );
    expect(invalid.status).toBe(400);
    const paths = invalid.json.issues.map((issue: { path: string }) => issue.path);
    expect(paths).toContain("parallelism");
    const configInvalid = await call("POST", `${SINKS}/bad`, sinkConfig({ configs: { failOpen: "yes" } }));
    expect(configInvalid.status).toBe(400);
    const configPaths = configInvalid.json.issues.map((issue: { path: string }) => issue.path);
    expect(configPaths).toEqual(expect.arrayContaining(["configs.path", "configs.failOpen"]));
    expect(configInvalid.json.reason).toContain("configs.path");
    // A refused submission does not echo its secrets, even where a message would quote the value.
    const echoed = await call("POST", `${SINKS}/bad`, {
      ...sinkConfig({ secrets: { token: "tok-1234-secret" } }),
      tenant: "tok-1234-secret",
    });
    expect(echoed.status).toBe(400);
    expect(echoed.text).toContain("differs from the request path");
    expect(echoed.text).not.toContain("tok-1234-secret");
    expect(echoed.text).not.toContain("hunter2-very-secret");
    const unknownType = await call("POST", `${SINKS}/bad`, sinkConfig({ archive: "builtin://nope" }));
    expect(unknownType.json.reason).toContain("available sinks are: [test-file, test-records]");
    const missing = await call("GET", `${SINKS}/ghost`);
    expect(missing.status).toBe(404);
    expect(missing.json.reason).toBe("Sink ghost doesn't exist");
    expect((await call("GET", `${SINKS}/ghost/status`)).status).toBe(404);
    const malformed = await call("POST", `${SINKS}/m`, '{"inputs": [', { "content-type": "application/json" });
    expect(malformed.status).toBe(400);
    expect(malformed.json.reason).toContain("Malformed JSON");
    const big = await call("POST", `${SINKS}/big`, "x".repeat(6 * 1024 * 1024), { "content-type": "application/json" });
    expect(big.status).toBe(413);
    expect(created).toHaveLength(0);
  });

  it("updates: guarantee and parallelism change by draining and restarting; immutable fields are refused", async () => {
    await startWorker();
    await call("POST", `${SINKS}/u1`, sinkConfig());
    await until(() => created.length === 1);
    const first = created[0] as StandInInstance;
    const update = await call("PUT", `${SINKS}/u1`, { processingGuarantees: "EFFECTIVELY_ONCE", parallelism: 2 });
    expect(update.status).toBe(204);
    expect(first.stopped).toBe(true);
    await until(() => created.length === 3);
    expect(created.slice(1).map((i) => i.options.config.processingGuarantees)).toEqual([
      "EFFECTIVELY_ONCE",
      "EFFECTIVELY_ONCE",
    ]);
    // The password survives an update that sends the config fetched with GET (redacted).
    const fetched = (await call("GET", `${SINKS}/u1`)).json;
    expect(fetched.processingGuarantees).toBe("EFFECTIVELY_ONCE");
    expect((await call("PUT", `${SINKS}/u1`, { ...fetched, parallelism: 1 })).status).toBe(204);
    await until(() => created.length === 4);
    expect(((created[3] as StandInInstance).options.config.configs as Record<string, unknown>).password).toBe(
      "hunter2-very-secret",
    );
    const refused = await call("PUT", `${SINKS}/u1`, { inputs: ["other-topic"] });
    expect(refused.status).toBe(400);
    expect(refused.json.issues[0].path).toBe("inputs");
    const same = await call("PUT", `${SINKS}/u1`, { parallelism: 1 });
    expect(same.json.reason).toBe("Update contains no change");
    expect((await call("PUT", `${SINKS}/ghost`, { parallelism: 1 })).status).toBe(404);
  });

  it("stops, starts and restarts per instance, and keeps the desired state across a worker restart", async () => {
    await startWorker();
    await call("POST", `${SINKS}/p1`, sinkConfig({ parallelism: 2 }));
    await until(() => created.length === 2);
    expect((await call("POST", `${SINKS}/p1/1/stop`)).status).toBe(204);
    let status = (await call("GET", `${SINKS}/p1/status`)).json;
    expect(status.numRunning).toBe(1);
    expect(status.instances[1].status).toMatchObject({ running: false, state: "stopped" });
    expect((await call("GET", `${SINKS}/p1/1/status`)).json.running).toBe(false);
    expect((await call("POST", `${SINKS}/p1/7/stop`)).status).toBe(400);
    expect((await call("POST", `${SINKS}/p1/x/stop`)).status).toBe(400);
    await worker?.close();
    created = [];
    await startWorker();
    await until(() => created.length === 1);
    status = (await call("GET", `${SINKS}/p1/status`)).json;
    expect(status.numRunning).toBe(1);
    expect(status.instances[1].status.running).toBe(false);
    expect((await call("POST", `${SINKS}/p1/1/start`)).status).toBe(204);
    await until(() => created.length === 2);
    expect((await call("POST", `${SINKS}/p1/0/restart`)).status).toBe(204);
    await until(() => created.length === 3);
    expect((await call("POST", `${SINKS}/p1/stop`)).status).toBe(204);
    expect((await call("GET", `${SINKS}/p1/status`)).json.numRunning).toBe(0);
    expect((await call("POST", `${SINKS}/p1/start`)).status).toBe(204);
    expect((await call("GET", `${SINKS}/p1/status`)).json.numRunning).toBe(2);
    expect((await call("DELETE", `${SINKS}/p1`)).status).toBe(204);
    expect((await call("GET", SINKS)).json).toEqual([]);
  });

  it("refuses a second worker on the same data folder while the first runs", async () => {
    await startWorker();
    const first = worker;
    await expect(startWorker()).rejects.toThrow(/used by another worker/);
    worker = first;
    await first?.close();
    await startWorker();
  });

  it("restarts a failed instance with backoff and says why it is not running", async () => {
    await startWorker();
    await call("POST", `${SINKS}/f1`, sinkConfig());
    await until(() => created.length === 1);
    failStarts = true;
    created[0]?.crash("disk full at hunter2-very-secret");
    await until(async () => (await call("GET", `${SINKS}/f1/0/status`)).json.numRestarts >= 2);
    const status = (await call("GET", `${SINKS}/f1/0/status`)).json;
    expect(status.running).toBe(false);
    expect(status.error).toContain("connection refused by the stand-in");
    expect(status.state).toMatch(/^(restarting in \d+s after: |starting)/);
    failStarts = false;
    await until(async () => (await call("GET", `${SINKS}/f1/0/status`)).json.running === true);
    expect(logLines.join("")).toContain("disk full at ********");
    const metrics = (await call("GET", "/metrics")).text;
    expect(metrics).toMatch(
      /pulsar_sink_system_exception\{[^}]*name="f1"[^}]*exception="connection refused by the stand-in"\} 1/,
    );
    expect(metrics).not.toContain("hunter2-very-secret");
    expect(logLines.join("")).not.toContain("hunter2-very-secret");
  });

  it("lists built-ins, config definitions, validates without creating, serves metrics and health", async () => {
    await startWorker();
    const sinks = (await call("GET", "/admin/v3/sinks/builtinsinks")).json;
    expect(sinks).toEqual([
      expect.objectContaining({ name: "test-file", sinkClass: "fixture-file-sink" }),
      expect.objectContaining({ name: "test-records", sinkClass: "fixture-record-sink" }),
    ]);
    const sources = (await call("GET", "/admin/v3/sources/builtinsources")).json;
    expect(sources[0]).toMatchObject({ name: "test-counter", sourceClass: "fixture-counter-source" });
    const definition = (await call("GET", "/admin/v3/sinks/builtinsinks/test-file/configdefinition")).json;
    expect(definition).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ fieldName: "password", attributes: expect.objectContaining({ sensitive: "true" }) }),
      ]),
    );
    expect((await call("GET", "/admin/v3/sinks/builtinsinks/nope/configdefinition")).status).toBe(404);
    for (const [base, builtins, reload, count] of [
      ["/admin/v3/sinks", "builtinsinks", "reloadBuiltInSinks", 2],
      ["/admin/v3/sink", "builtinsinks", "reloadBuiltInSinks", 2],
      ["/admin/v3/sources", "builtinsources", "reloadBuiltInSources", 1],
      ["/admin/v3/source", "builtinsources", "reloadBuiltInSources", 1],
    ] as const) {
      expect((await call("GET", `${base}/public/default`)).json).toEqual([]);
      expect((await call("GET", `${base}/${builtins}`)).json).toHaveLength(count);
      expect((await call("POST", `${base}/${reload}`)).status).toBe(200);
      const name = (await call("GET", `${base}/${builtins}`)).json[0].name;
      expect((await call("GET", `${base}/${builtins}/${name}/configdefinition`)).status).toBe(200);
      expect((await call("GET", `${base}/public/default/ghost`)).status).toBe(404);
    }
    const valid = await call("POST", `${SINKS}/v1/validate`, sinkConfig());
    expect(valid.status).toBe(200);
    expect(valid.json.valid).toBe(true);
    expect(valid.text).not.toContain("hunter2");
    expect((await call("POST", `${SINKS}/v1/validate`, sinkConfig({ configs: {} }))).status).toBe(400);
    expect((await call("GET", SINKS)).json).toEqual([]);
    await call("POST", "/admin/v3/sources/public/default/src1", {
      archive: "builtin://test-counter",
      topicName: "unit-out",
    });
    await until(() => created.length === 1);
    (created[0] as StandInInstance).stats.received = 7;
    (created[0] as StandInInstance).stats.dropped = 2;
    const metrics = await call("GET", "/metrics");
    expect(metrics.text).toContain(
      'pulsar_source_dropped_total{tenant="public",namespace="public/default",name="src1",instance_id="0",cluster="standalone",fqfn="public/default/src1"} 2',
    );
    expect(metrics.text).toContain("# TYPE pulsar_sink_dead_lettered_total counter");
    expect((await call("GET", "/admin/v3/sources/public/default/src1/0/status")).json).toMatchObject({ numDropped: 2 });
    expect(metrics.text).toContain(
      'pulsar_source_received_total{tenant="public",namespace="public/default",name="src1",instance_id="0",cluster="standalone",fqfn="public/default/src1"} 7',
    );
    expect(metrics.text).toContain("# TYPE pulsar_sink_written_total counter");
    expect(metrics.text).toMatch(/process_resident_memory_bytes \d+/);
    expect((await call("GET", "/health")).text).toBe("ok");
    expect((await call("POST", "/admin/v3/sinks/reloadBuiltInSinks")).status).toBe(200);
  });

  it("authenticates bearer tokens: 401 without or with a bad token, 403 for reload by a non-superuser", async () => {
    const secret = "unit-test-jwt-secret-value";
    await startWorker({
      auth: { tokens: [{ token: "static-admin-token", role: "admin" }], jwtSecret: secret, superUserRoles: ["admin"] },
    });
    expect((await call("GET", SINKS)).status).toBe(401);
    expect((await call("GET", SINKS, undefined, { authorization: "Bearer wrong" })).status).toBe(401);
    const forged = signToken({ sub: "admin" }, "another-secret");
    expect((await call("GET", SINKS, undefined, { authorization: `Bearer ${forged}` })).status).toBe(401);
    const expired = signToken({ sub: "ops", exp: Math.floor(Date.now() / 1000) - 10 }, secret);
    expect((await call("GET", SINKS, undefined, { authorization: `Bearer ${expired}` })).status).toBe(401);
    const ops = signToken({ sub: "ops" }, secret);
    expect((await call("GET", SINKS, undefined, { authorization: `Bearer ${ops}` })).status).toBe(200);
    const reload = await call("POST", "/admin/v3/sinks/reloadBuiltInSinks", undefined, {
      authorization: `Bearer ${ops}`,
    });
    expect(reload.status).toBe(403);
    const asAdmin = await call("POST", "/admin/v3/sources/reloadBuiltInSources", undefined, {
      authorization: "Bearer static-admin-token",
    });
    expect(asAdmin.status).toBe(200);
    expect(logLines.join("")).not.toContain("static-admin-token");
  });

  it("limits non-superuser roles to their tenants when tenantRoles is set (403 elsewhere)", async () => {
    const secret = "unit-test-jwt-secret-value";
    await startWorker({ auth: { jwtSecret: secret, superUserRoles: ["root"], tenantRoles: { public: ["team-a"] } } });
    const teamA = { authorization: `Bearer ${signToken({ sub: "team-a" }, secret)}` };
    const teamB = { authorization: `Bearer ${signToken({ sub: "team-b" }, secret)}` };
    const root = { authorization: `Bearer ${signToken({ sub: "root" }, secret)}` };
    expect((await call("GET", SINKS, undefined, teamA)).status).toBe(200);
    expect((await call("POST", `${SINKS}/t1`, sinkConfig(), teamA)).status).toBe(204);
    const denied = await call("DELETE", `${SINKS}/t1`, undefined, teamB);
    expect(denied.status).toBe(403);
    expect(denied.json.reason).toContain("team-b");
    expect((await call("GET", "/admin/v3/sinks/other/ns", undefined, teamA)).status).toBe(403);
    expect((await call("GET", "/admin/v3/sinks/other/ns", undefined, root)).status).toBe(200);
  });
});
