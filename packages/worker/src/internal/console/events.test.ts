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
import { fixtureHost } from "../../../test/fixtures/host.ts";
import { Worker } from "../../worker.ts";

// The console's event streams on a worker whose instances are stand-ins (no broker): auth, what they push, and
// how they end. The browser side runs against a real broker in test/console.integration.test.ts.
class StandIn implements ConnectorInstance {
  readonly kind: "sink" | "source";
  readonly instanceId: number;
  readonly stats: InstanceStats = new InstanceStats();
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(options: SinkInstanceOptions | SourceInstanceOptions) {
    this.kind = options.kind;
    this.instanceId = options.instanceId;
    this.done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.finish();
  }

  status(): SinkInstanceStatusData {
    return {
      running: true,
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

const TOKEN = "events-test-token";
const auth = { authorization: `Bearer ${TOKEN}` };
let dataDir: string;
let worker: Worker | undefined;
let instances: StandIn[];

interface ServerEvent {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: events are read loosely
  data: any;
}

/** Reads an event stream; `events` fills as they come, `ended` settles with how the stream ended. */
function follow(path: string, headers: Record<string, string> = auth) {
  const events: ServerEvent[] = [];
  const abort = new AbortController();
  const opened = fetch(`${worker?.url}${path}`, { headers, signal: abort.signal });
  const ended = (async (): Promise<"ended" | "aborted" | string> => {
    const response = await opened;
    if (!response.body) return "no body";
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "ended";
        buffer += decoder.decode(value, { stream: true });
        let cut = buffer.indexOf("\n\n");
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data: JSON.parse(data) });
          cut = buffer.indexOf("\n\n");
        }
      }
    } catch (error) {
      return abort.signal.aborted ? "aborted" : `failed: ${(error as Error).message}`;
    }
  })();
  return { events, opened, ended, abort };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((done) => setTimeout(done, 20));
  }
}

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-events-"));
  instances = [];
  worker = await Worker.start({
    port: 0,
    dataDir,
    hostDirs: [fixtureHost()],
    createPulsarClient: () => ({}) as never,
    createInstance: (options) => {
      const instance = new StandIn(options);
      instances.push(instance);
      return instance;
    },
    logDestination: { write: () => true },
    auth: { tokens: [{ token: TOKEN, role: "admin" }], superUserRoles: ["admin"] },
  });
  const created = await fetch(`${worker.url}/admin/v3/sinks/public/default/orders`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ archive: "builtin://test-file", inputs: ["in"], configs: { path: join(dataDir, "out") } }),
  });
  expect(created.status).toBe(204);
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

describe("console event streams", () => {
  it("refuses a stream without a token, or with a wrong one, before sending any event", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }]) {
      const response = await fetch(`${worker?.url}/console/api/v1/events/connectors`, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(((await response.json()) as { reason: string }).reason).toMatch(/auth/i);
    }
    const other = await fetch(`${worker?.url}/console/api/v1/events/connector/sink/public/default/orders`);
    expect(other.status).toBe(401);
  });

  it("serves the sampled history to a role that may manage the connector, and to nobody else", async () => {
    const path = "/console/api/v1/history/sink/public/default/orders";
    expect((await fetch(`${worker?.url}${path}`)).status).toBe(401);
    const answer = await fetch(`${worker?.url}${path}`, { headers: auth });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { intervalMs: number; capacity: number; total: unknown[] };
    expect(body).toMatchObject({ intervalMs: 10_000, capacity: 360 });
    expect(Array.isArray(body.total)).toBe(true);
    const list = await fetch(`${worker?.url}/console/api/v1/history`, { headers: auth });
    expect(Object.keys(((await list.json()) as { connectors: object }).connectors)).toEqual([
      "sink:public/default/orders",
    ]);
  });

  it("pushes the connector list again when a count moves, without being asked", async () => {
    const stream = follow("/console/api/v1/events/connectors");
    expect((await stream.opened).headers.get("content-type")).toContain("text/event-stream");
    const lists = () => stream.events.filter((e) => e.event === "connectors");
    await until(() => lists().length === 1);
    expect(lists()[0]?.data.connectors).toMatchObject([{ name: "orders", received: 0 }]);
    (instances[0] as StandIn).stats.received = 7;
    await until(() => lists().length === 2);
    expect(lists()[1]?.data.connectors[0].received).toBe(7);
    stream.abort.abort();
    expect(await stream.ended).toBe("aborted");
  });

  it("pushes one connector's status and its log lines", async () => {
    const stream = follow("/console/api/v1/events/connector/sink/public/default/orders");
    await until(() => stream.events.some((e) => e.event === "status") && stream.events.some((e) => e.event === "logs"));
    const status = stream.events.find((e) => e.event === "status")?.data;
    expect(status).toMatchObject({ numInstances: 1, instances: [{ instanceId: 0, status: { running: true } }] });
    expect(stream.events.find((e) => e.event === "summary")?.data.connector).toMatchObject({ name: "orders" });
    expect(stream.events.find((e) => e.event === "logs")?.data.available).toBe(true);
    stream.abort.abort();
  });

  it("refuses the stream of a connector of a tenant the role may not manage", async () => {
    await worker?.close();
    worker = await Worker.start({
      port: 0,
      dataDir,
      hostDirs: [fixtureHost()],
      createPulsarClient: () => ({}) as never,
      createInstance: (options) => new StandIn(options),
      logDestination: { write: () => true },
      auth: { tokens: [{ token: TOKEN, role: "team" }], tenantRoles: { other: ["team"] } },
    });
    const response = await fetch(`${worker.url}/console/api/v1/events/connector/sink/public/default/orders`, {
      headers: auth,
    });
    expect(response.status).toBe(403);
  });

  it("ends open streams cleanly when the worker shuts down, and the shutdown does not wait for them", async () => {
    const list = follow("/console/api/v1/events/connectors");
    const one = follow("/console/api/v1/events/connector/sink/public/default/orders");
    await until(() => list.events.length > 0 && one.events.length > 0);
    const started = Date.now();
    await worker?.close();
    worker = undefined;
    expect(Date.now() - started).toBeLessThan(5_000);
    // "ended": the worker finished the responses; a connection cut under them would read as a failure.
    expect(await list.ended).toBe("ended");
    expect(await one.ended).toBe("ended");
  });
});
