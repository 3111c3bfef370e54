import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker, type WorkerOptions } from "../src/index.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { http, linesOf, subscriptionStats, testWorkerOptions, until } from "./helpers.ts";

const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `w${Date.now().toString(36)}`;
const SINKS = "/admin/v3/sinks/public/default";
const SOURCES = "/admin/v3/sources/public/default";
const PASSWORD = `pw-${run}-do-not-leak`;
const SECRET = `secret-${run}-never-shown`;

let dataDir: string;
let host: string;
let outDir: string;
let worker: Worker;
let client: PulsarClient;
const logs: string[] = [];
const answers: string[] = [];

async function startWorker(): Promise<Worker> {
  const options: WorkerOptions = {
    ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
    logLevel: "debug",
  };
  return Worker.start(options);
}

async function api(method: string, path: string, body?: unknown) {
  const answer = await http(worker.url, method, path, body);
  answers.push(answer.text);
  return answer;
}

async function publish(topic: string, values: string[]): Promise<void> {
  const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
  for (const value of values) await producer.send({ value });
  await producer.close();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-worker-it-"));
  outDir = mkdtempSync(join(tmpdir(), "pulsar-connect-out-"));
  host = fixtureHost();
  client = new PulsarClient({ serviceUrl });
  worker = await startWorker();
});

afterAll(async () => {
  await worker?.close();
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

describe("worker against a real broker", () => {
  it("runs a source and a sink end to end; status, metrics and get never show secrets", async () => {
    const topic = `${run}-flow`;
    const file = join(outDir, "flow.txt");
    const source = await api("POST", `${SOURCES}/${run}-gen`, {
      archive: "builtin://test-counter",
      topicName: topic,
      configs: { count: 40, intervalMs: 5, apiKey: PASSWORD },
    });
    expect(source.status).toBe(204);
    const sink = await api("POST", `${SINKS}/${run}-file`, {
      sinkType: "test-file",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      configs: { path: file, password: PASSWORD },
      secrets: { extra: SECRET },
    });
    expect(sink.status).toBe(204);
    await until(() => linesOf(file).length >= 40, 60_000, "40 records in the file");
    expect(new Set(linesOf(file))).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `value-${i}`)));
    await until(
      async () => (await api("GET", `${SINKS}/${run}-file/status`)).json.instances[0].status.numWrittenToSink >= 40,
    );
    const sinkStatus = (await api("GET", `${SINKS}/${run}-file/status`)).json;
    expect(sinkStatus).toMatchObject({ numInstances: 1, numRunning: 1 });
    expect(sinkStatus.instances[0].status).toMatchObject({ running: true, numRestarts: 0, numReadFromPulsar: 40 });
    const sourceStatus = (await api("GET", `${SOURCES}/${run}-gen/0/status`)).json;
    expect(sourceStatus.numReceivedFromSource).toBe(40);
    expect(sourceStatus.numWritten).toBe(40);
    const metrics = await api("GET", "/metrics");
    expect(metrics.text).toContain(
      `pulsar_sink_written_total{tenant="public",namespace="public/default",name="${run}-file",instance_id="0",cluster="standalone",fqfn="public/default/${run}-file"} 40`,
    );
    expect(metrics.text).toMatch(new RegExp(`pulsar_source_written_total\\{[^}]*name="${run}-gen"[^}]*\\} 40`));
    const get = await api("GET", `${SINKS}/${run}-file`);
    expect(get.json.processingGuarantees).toBe("ATLEAST_ONCE");
    expect(get.json.configs.password).toBe("********");
    expect((await api("GET", `${SOURCES}/${run}-gen`)).json.configs.apiKey).toBe("********");
  });

  it("applies guarantee updates ATLEAST_ONCE -> ATMOST_ONCE -> EFFECTIVELY_ONCE (subscription type and acks)", async () => {
    const topic = `${run}-guarantee`;
    const name = `${run}-g`;
    const subscription = `public/default/${name}`;
    const file = join(outDir, "guarantee.txt");
    await publish(topic, ["warm-up"]);
    const created = await api("POST", `${SINKS}/${name}`, {
      archive: "builtin://test-file",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      configs: { path: file, failOn: "poison" },
    });
    expect(created.status).toBe(204);
    await until(() => linesOf(file).includes("warm-up"), 30_000, "warm-up written");
    expect((await api("GET", `${SINKS}/${name}`)).json.processingGuarantees).toBe("ATLEAST_ONCE");
    expect((await subscriptionStats(adminUrl, topic, subscription))?.type).toBe("Shared");

    // ATLEAST_ONCE: a record the sink cannot write stays unacknowledged (retried), the backlog keeps it.
    await publish(topic, ["poison"]);
    await until(async () => (await api("GET", `${SINKS}/${name}/0/status`)).json.numSinkExceptions > 0);
    expect((await api("GET", `${SINKS}/${name}/0/status`)).json.state).toContain("retrying write");
    expect((await subscriptionStats(adminUrl, topic, subscription))?.msgBacklog).toBe(1);

    // ATMOST_ONCE: the redelivered record is acknowledged on receipt, before the (failing) write.
    const atMost = await api("PUT", `${SINKS}/${name}`, { processingGuarantees: "ATMOST_ONCE" });
    expect(atMost.status).toBe(204);
    expect((await api("GET", `${SINKS}/${name}`)).json.processingGuarantees).toBe("ATMOST_ONCE");
    await until(
      async () => (await subscriptionStats(adminUrl, topic, subscription))?.msgBacklog === 0,
      30_000,
      "backlog 0",
    );
    expect((await subscriptionStats(adminUrl, topic, subscription))?.type).toBe("Shared");
    expect(linesOf(file)).not.toContain("poison");

    // EFFECTIVELY_ONCE: the instance comes back on a Failover subscription with cumulative acks.
    const effectively = await api("PUT", `${SINKS}/${name}`, { processingGuarantees: "EFFECTIVELY_ONCE" });
    expect(effectively.status).toBe(204);
    await until(
      async () => {
        const stats = await subscriptionStats(adminUrl, topic, subscription);
        return stats?.type === "Failover" && stats.consumers.length === 1;
      },
      30_000,
      "Failover subscription",
    );
    await publish(topic, ["after-effectively-once"]);
    await until(
      () => linesOf(file).includes("after-effectively-once"),
      30_000,
      "record written under EFFECTIVELY_ONCE",
    );
    await until(
      async () => (await subscriptionStats(adminUrl, topic, subscription))?.msgBacklog === 0,
      30_000,
      "acked",
    );
    expect((await api("GET", `${SINKS}/${name}`)).json.processingGuarantees).toBe("EFFECTIVELY_ONCE");
  });

  it("stops, starts and restarts single instances; connectors come back after a worker restart", async () => {
    const topic = `${run}-par`;
    const name = `${run}-par`;
    const file = join(outDir, "par.txt");
    expect(
      (
        await api("POST", `${SINKS}/${name}`, {
          archive: "builtin://test-file",
          inputs: [topic],
          parallelism: 2,
          configs: { path: file },
        })
      ).status,
    ).toBe(204);
    await until(async () => (await api("GET", `${SINKS}/${name}/status`)).json.numRunning === 2, 30_000, "2 running");
    await until(
      async () => (await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.consumers.length === 2,
    );
    expect((await api("POST", `${SINKS}/${name}/1/stop`)).status).toBe(204);
    let status = (await api("GET", `${SINKS}/${name}/status`)).json;
    expect(status.numRunning).toBe(1);
    expect(status.instances[1].status).toMatchObject({ running: false, state: "stopped" });
    await until(
      async () => (await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.consumers.length === 1,
    );
    expect((await api("POST", `${SINKS}/${name}/0/restart`)).status).toBe(204);
    await until(async () => (await api("GET", `${SINKS}/${name}/0/status`)).json.running === true);

    // Restart the worker: instance 0 comes back running, instance 1 stays stopped, no record is lost.
    await worker.close();
    await publish(topic, ["while-down-1", "while-down-2"]);
    worker = await startWorker();
    await until(
      () => ["while-down-1", "while-down-2"].every((value) => linesOf(file).includes(value)),
      30_000,
      "both records published while the worker was down",
    );
    status = (await api("GET", `${SINKS}/${name}/status`)).json;
    expect(status.instances[0].status.running).toBe(true);
    expect(status.instances[1].status.running).toBe(false);
    expect((await api("GET", `${SINKS}/${run}-g`)).json.processingGuarantees).toBe("EFFECTIVELY_ONCE");
    expect((await api("POST", `${SINKS}/${name}/1/start`)).status).toBe(204);
    await until(async () => (await api("GET", `${SINKS}/${name}/status`)).json.numRunning === 2, 30_000, "2 running");
    expect((await api("POST", `${SINKS}/${name}/stop`)).status).toBe(204);
    expect((await api("GET", `${SINKS}/${name}/status`)).json.numRunning).toBe(0);
    expect((await api("POST", `${SINKS}/${name}/start`)).status).toBe(204);
    await until(async () => (await api("GET", `${SINKS}/${name}/status`)).json.numRunning === 2, 30_000, "2 running");
    expect((await api("POST", `${SINKS}/${name}/restart`)).status).toBe(204);
    await until(async () => (await api("GET", `${SINKS}/${name}/status`)).json.numRunning === 2, 30_000, "2 running");
  });

  it("restarts a failing instance with backoff and reports why it is not running", async () => {
    const name = `${run}-fail`;
    await api("POST", `${SINKS}/${name}`, {
      archive: "builtin://test-file",
      inputs: [`${run}-fail`],
      configs: { path: join(outDir, "never.txt"), failOpen: true, password: PASSWORD },
    });
    await until(async () => (await api("GET", `${SINKS}/${name}/0/status`)).json.numRestarts >= 1, 30_000, "a restart");
    const status = (await api("GET", `${SINKS}/${name}/0/status`)).json;
    expect(status.running).toBe(false);
    expect(status.error).toContain("failOpen is set");
    expect(status.state).toMatch(/restarting in \d+s after: |starting/);
    expect((await api("DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });

  it("deletes sinks with their subscription unless cleanupSubscription=false", async () => {
    const topic = `${run}-flow`;
    await until(async () => (await subscriptionStats(adminUrl, topic, `public/default/${run}-file`)) !== undefined);
    expect((await api("DELETE", `${SINKS}/${run}-file`)).status).toBe(204);
    expect(await subscriptionStats(adminUrl, topic, `public/default/${run}-file`)).toBeUndefined();
    expect((await api("GET", `${SINKS}/${run}-file`)).status).toBe(404);
    await api("POST", `${SINKS}/${run}-keep`, {
      archive: "builtin://test-file",
      inputs: [topic],
      cleanupSubscription: false,
      configs: { path: join(outDir, "keep.txt") },
    });
    await until(async () => (await subscriptionStats(adminUrl, topic, `public/default/${run}-keep`)) !== undefined);
    expect((await api("DELETE", `${SINKS}/${run}-keep`)).status).toBe(204);
    expect(await subscriptionStats(adminUrl, topic, `public/default/${run}-keep`)).toBeDefined();
    expect((await api("DELETE", `${SOURCES}/${run}-gen`)).status).toBe(204);
  });

  it("answers 400 for malformed JSON and invalid configs (every field), 404 for unknown sinks", async () => {
    const malformed = await http(worker.url, "POST", `${SINKS}/${run}-m`, '{"inputs": [', {
      "content-type": "application/json",
    });
    expect(malformed.status).toBe(400);
    expect(malformed.json.reason).toContain("Malformed JSON");
    const invalid = await api("POST", `${SINKS}/${run}-invalid`, {
      archive: "builtin://test-file",
      inputs: ["bad topic name"],
      parallelism: -1,
      configs: { failOn: 3, password: PASSWORD },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json.issues.map((issue: { path: string }) => issue.path)).toEqual(
      expect.arrayContaining(["parallelism", "inputs.0"]),
    );
    const connectorInvalid = await api("POST", `${SINKS}/${run}-invalid`, {
      archive: "builtin://test-file",
      inputs: ["fine"],
      configs: { failOn: 3, password: PASSWORD },
    });
    expect(connectorInvalid.json.issues.map((issue: { path: string }) => issue.path)).toEqual(
      expect.arrayContaining(["configs.path", "configs.failOn"]),
    );
    const unknown = await api("GET", `${SINKS}/${run}-nothing/status`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.reason).toBe(`Sink ${run}-nothing doesn't exist`);
    expect((await api("DELETE", `${SOURCES}/${run}-nothing`)).json.reason).toBe(`Source ${run}-nothing doesn't exist`);
  });

  it("never shows a secret value in a response or a log line", async () => {
    // Self-contained (it does not rely on what earlier tests left in `answers` and `logs`): a sink that runs and one
    // that fails to open, both with a sensitive config field and a secret, asked for through every read endpoint.
    const name = `${run}-leak`;
    const topic = `${run}-leak`;
    await publish(topic, ["leak-check"]);
    const running = await api("POST", `${SINKS}/${name}`, {
      archive: "builtin://test-file",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      configs: { path: join(outDir, "leak.txt"), password: PASSWORD },
      secrets: { extra: SECRET },
    });
    expect(running.status).toBe(204);
    const failing = await api("POST", `${SINKS}/${name}-fail`, {
      archive: "builtin://test-file",
      inputs: [topic],
      configs: { path: join(outDir, "leak-never.txt"), failOpen: true, password: PASSWORD },
      secrets: { extra: SECRET },
    });
    expect(failing.status).toBe(204);
    await until(() => linesOf(join(outDir, "leak.txt")).includes("leak-check"), 30_000, "the leak-check record");
    await until(
      async () => (await api("GET", `${SINKS}/${name}-fail/0/status`)).json.numRestarts >= 1,
      30_000,
      "a failed open",
    );
    for (const path of [`${SINKS}/${name}`, `${SINKS}/${name}/status`, `${SINKS}/${name}-fail/0/status`, SINKS]) {
      expect((await api("GET", path)).status).toBe(200);
    }
    await api("GET", "/metrics");
    expect(
      logs.some((line) => line.includes(name)),
      "the worker logged about the connectors",
    ).toBe(true);
    expect(
      answers.some((text) => text.includes("********")),
      "the config came back, masked",
    ).toBe(true);
    expect((await api("DELETE", `${SINKS}/${name}`)).status).toBe(204);
    expect((await api("DELETE", `${SINKS}/${name}-fail`)).status).toBe(204);
    for (const text of [...answers, ...logs]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(SECRET);
    }
  });
});
