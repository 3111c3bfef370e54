import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { type ConnectorInstance, createInstance } from "@pulsar-connect/runtime";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { http, linesOf, subscriptionStats, testWorkerOptions, until } from "./helpers.ts";

// Concurrent and failing lifecycle operations against a real broker. The runtime's own instance factory runs the
// instances; the test only records which instances it made, to find any left running behind the API's back.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `l${Date.now().toString(36)}`;
const SINKS = "/admin/v3/sinks/public/default";

let dataDir: string;
let host: string;
let outDir: string;
let worker: Worker;
const logs: string[] = [];
const made: Array<{ name: string; instance: ConnectorInstance }> = [];

function storeFile(name: string): string {
  return join(dataDir, "connectors", `sink~public~default~${encodeURIComponent(name)}.json`);
}

/** Whether `instance` ended within `ms` (a stopped instance settles `done`). */
async function ends(instance: ConnectorInstance, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((done) => {
    timer = setTimeout(() => done(false), ms);
  });
  const ended = instance.done.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([ended, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-lifecycle-"));
  outDir = mkdtempSync(join(tmpdir(), "pulsar-connect-lifecycle-out-"));
  host = fixtureHost();
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
    stopTimeoutMs: 1_500,
    createInstance: (options) => {
      const instance = createInstance(options);
      made.push({ name: options.config.name, instance });
      return instance;
    },
  });
});

afterAll(async () => {
  await worker?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

describe("worker lifecycle under concurrent and failing operations", () => {
  it("a delete racing a create leaves no running instance, no subscription and no store file behind", async () => {
    for (let round = 0; round < 5; round += 1) {
      const name = `${run}-race-${round}`;
      const created = http(worker.url, "POST", `${SINKS}/${name}`, {
        archive: "builtin://test-file",
        inputs: [`${run}-race`],
        parallelism: 2,
        configs: { path: join(outDir, `${name}.txt`) },
      });
      let createdStatus: number | undefined;
      void created.then((answer) => {
        createdStatus = answer.status;
      });
      // Delete as soon as the worker knows the name: right inside the create when the race is open.
      let deleted = await http(worker.url, "DELETE", `${SINKS}/${name}`);
      while (deleted.status === 404 && createdStatus === undefined) {
        deleted = await http(worker.url, "DELETE", `${SINKS}/${name}`);
      }
      if (deleted.status === 404) deleted = await http(worker.url, "DELETE", `${SINKS}/${name}`);
      expect((await created).status).toBe(204);
      expect(deleted.status).toBe(204);
      expect((await http(worker.url, "GET", `${SINKS}/${name}`)).status).toBe(404);
      for (const entry of made.filter((candidate) => candidate.name === name)) {
        expect(await ends(entry.instance, 15_000), `instance of ${name} still running`).toBe(true);
      }
      expect(existsSync(storeFile(name)), `store file of ${name}`).toBe(false);
    }
    const stats = await subscriptionStats(adminUrl, `${run}-race`, `public/default/${run}-race-4`);
    expect(stats?.consumers.length ?? 0).toBe(0);
  });

  it("an update whose store write fails keeps the old instances running, and the retry applies it", async () => {
    const name = `${run}-upd`;
    const topic = `${run}-upd`;
    const created = await http(worker.url, "POST", `${SINKS}/${name}`, {
      archive: "builtin://test-file",
      inputs: [topic],
      parallelism: 2,
      configs: { path: join(outDir, "upd.txt") },
    });
    expect(created.status).toBe(204);
    await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json.numRunning === 2);
    await until(
      async () => (await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.consumers.length === 2,
    );

    // The store cannot replace the connector's file (a folder stands in its way).
    const file = storeFile(name);
    rmSync(file);
    mkdirSync(file);
    writeFileSync(join(file, "blocker"), "");
    const failed = await http(worker.url, "PUT", `${SINKS}/${name}`, { parallelism: 3 });
    expect(failed.status).toBe(500);
    expect(failed.json.reason).toContain(`Cannot persist sink ${name}`);
    expect((await http(worker.url, "GET", `${SINKS}/${name}`)).json.parallelism).toBe(2);
    const status = (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json;
    expect(status).toMatchObject({ numInstances: 2, numRunning: 2 });
    expect((await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.consumers.length).toBe(2);
    // A failed stop changes nothing either.
    expect((await http(worker.url, "POST", `${SINKS}/${name}/stop`)).status).toBe(500);
    expect((await http(worker.url, "GET", `${SINKS}/${name}/status`)).json.numRunning).toBe(2);

    rmSync(file, { recursive: true });
    const retried = await http(worker.url, "PUT", `${SINKS}/${name}`, { parallelism: 3 });
    expect(retried.status, retried.text).toBe(204);
    await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json.numRunning === 3);
    expect(readdirSync(join(dataDir, "connectors")).filter((entry) => entry.endsWith(".tmp"))).toEqual([]);
    expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });

  it("concurrent updates and a delete apply one after another; the last word wins", async () => {
    const name = `${run}-seq`;
    expect(
      (
        await http(worker.url, "POST", `${SINKS}/${name}`, {
          archive: "builtin://test-file",
          inputs: [`${run}-seq`],
          configs: { path: join(outDir, "seq.txt") },
        })
      ).status,
    ).toBe(204);
    const answers = await Promise.all([
      http(worker.url, "PUT", `${SINKS}/${name}`, { parallelism: 2 }),
      http(worker.url, "POST", `${SINKS}/${name}/0/stop`),
      http(worker.url, "PUT", `${SINKS}/${name}`, { parallelism: 3 }),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([204, 204, 204]);
    const status = (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json;
    expect(status.numInstances).toBe(3);
    await until(async () => {
      const now = (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json;
      return now.numRunning === 2 && now.instances[0].status.running === false;
    });
    const [removed, late] = await Promise.all([
      http(worker.url, "DELETE", `${SINKS}/${name}`),
      http(worker.url, "POST", `${SINKS}/${name}/0/start`),
    ]);
    expect(removed.status).toBe(204);
    expect(late.status).toBe(404);
    for (const entry of made.filter((candidate) => candidate.name === name)) {
      expect(await ends(entry.instance, 15_000)).toBe(true);
    }
  });

  it("a drain that times out closes the instance forcibly: its Failover consumer lets the next instance in", async () => {
    const name = `${run}-stuck`;
    const topic = `${run}-stuck`;
    const file = join(outDir, "stuck.txt");
    expect(
      (
        await http(worker.url, "POST", `${SINKS}/${name}`, {
          archive: "builtin://test-file",
          inputs: [topic],
          processingGuarantees: "EFFECTIVELY_ONCE",
          configs: { path: file, hangOn: "stuck" },
        })
      ).status,
    ).toBe(204);
    await until(
      async () => (await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.consumers.length === 1,
    );
    const client = new PulsarClient({ serviceUrl });
    const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
    await producer.send({ value: "before" });
    await until(() => linesOf(file).includes("before"), 30_000, "first record written");
    await producer.send({ value: "stuck" });
    await until(
      async () => (await http(worker.url, "GET", `${SINKS}/${name}/0/status`)).json.numReadFromPulsar >= 2,
      30_000,
      "the stuck record read",
    );
    const begun = Date.now();
    expect((await http(worker.url, "POST", `${SINKS}/${name}/stop`)).status).toBe(204);
    expect(Date.now() - begun).toBeLessThan(10_000);
    // Nobody holds the Failover subscription any more.
    await until(
      async () => (await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.consumers.length === 0,
      10_000,
      "the stuck instance's consumer closed",
    );
    const status = (await http(worker.url, "GET", `${SINKS}/${name}/0/status`)).json;
    expect(status.running).toBe(false);
    expect(status.error).toContain("did not stop within 1.5s; closed forcibly");
    expect(logs.join("")).toContain("closed forcibly");
    // The record the stuck write held was never acknowledged: it is still in the backlog.
    expect((await subscriptionStats(adminUrl, topic, `public/default/${name}`))?.msgBacklog).toBe(1);
    await producer.close();
    await client.close();
    expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });

  it("deleting a topicsPattern sink deletes its subscription on every matched topic and partition", async () => {
    const admin = new PulsarAdmin({ serviceUrl: adminUrl });
    const name = `${run}-pattern`;
    const subscription = `public/default/${name}`;
    await admin.createTopic(`persistent://public/default/${run}-pat-plain`);
    await admin.createPartitionedTopic(`persistent://public/default/${run}-pat-parts`, 2);
    const targets = [`${run}-pat-plain`, `${run}-pat-parts-partition-0`, `${run}-pat-parts-partition-1`];
    expect(
      (
        await http(worker.url, "POST", `${SINKS}/${name}`, {
          archive: "builtin://test-file",
          topicsPattern: `persistent://public/default/${run}-pat-.*`,
          configs: { path: join(outDir, "pattern.txt") },
        })
      ).status,
    ).toBe(204);
    for (const topic of targets) {
      await until(
        async () => (await subscriptionStats(adminUrl, topic, subscription)) !== undefined,
        30_000,
        `subscription on ${topic}`,
      );
    }
    expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
    for (const topic of targets) expect(await subscriptionStats(adminUrl, topic, subscription)).toBeUndefined();
    await admin.deleteTopic(`persistent://public/default/${run}-pat-plain`, { force: true });
    await admin.deleteTopic(`persistent://public/default/${run}-pat-parts`, { force: true });
  });
});
