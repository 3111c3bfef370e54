// The connector store's writer of a cluster's leader on the shared Pulsar: another producer takes the store topic
// with ExclusiveWithFencing, as a worker that lost an election does when its take of the writer comes after the
// leader's. The leader takes its writer back and stays the one writer: writes answer 503 (with the reason) for a
// moment, never 500, then go through again, and the producer that fenced it can no longer write.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Worker } from "../src/index.ts";
import { TestCluster } from "./cluster-workers.ts";
import { http, until } from "./helpers.ts";

const PORTS = [7901, 7902];
const LEASE_MS = 3_000;

const cluster = new TestCluster({ runPrefix: "lw", dirPrefix: "pulsar-connect-leader-writer-", leaseMs: LEASE_MS });
const { serviceUrl, namespace, workDir } = cluster;
const connectorsTopic = cluster.topic("connectors");

const workers: Worker[] = [];
let client: PulsarClient | undefined;

/** A cluster worker in this process. */
async function startWorker(port: number): Promise<Worker> {
  const worker = await Worker.start({
    ...cluster.workerOptions(port, join(workDir, `data-${port}`)),
    logDestination: { write: (line: string) => appendFileSync(join(workDir, `worker-${port}.log`), line) },
  });
  workers.push(worker);
  return worker;
}

const source = (name: string) => ({
  archive: "builtin://data-generator",
  topicName: `persistent://${namespace}/${name}-out`,
  parallelism: 1,
  configs: { recordType: "people", ratePerSecond: 1 },
});

beforeAll(async () => {
  client = new PulsarClient({ serviceUrl });
  const [a, b] = [await startWorker(PORTS[0] as number), await startWorker(PORTS[1] as number)];
  await until(
    () => a.clusterView()?.workers().length === 2 && b.clusterView()?.leader()?.workerId === a.workerId,
    30_000,
    "a leads a cluster of two",
  );
  await until(
    async () => (await http(b.url, "POST", `/admin/v3/sources/${namespace}/before`, source("before"))).status < 300,
    30_000,
    "a source created through the worker that does not lead",
  );
}, 60_000);

afterAll(async () => {
  for (const worker of workers.reverse()) await worker.close().catch(() => undefined);
  await client?.close().catch(() => undefined);
  await cluster.close();
});

describe("the cluster leader's connector store writer (two workers, real Pulsar)", () => {
  it("fenced by a late take of another worker, the leader takes it back: 503 meanwhile, never 500", async () => {
    const [a, b] = workers as [Worker, Worker];
    const intruder = await (client as PulsarClient).createProducer({
      topic: connectorsTopic,
      accessMode: "ExclusiveWithFencing",
      batchingEnabled: false,
      sendTimeoutMs: 5_000,
    });
    const answers: { status: number; reason: string }[] = [];
    const from = performance.now();
    await until(
      async () => {
        const answer = await http(b.url, "POST", `/admin/v3/sources/${namespace}/after`, source("after"));
        answers.push({ status: answer.status, reason: answer.text });
        return answer.status < 300;
      },
      15_000,
      "a source created after the fence",
    );
    const recoveredMs = Math.round(performance.now() - from);
    expect(
      answers.filter(({ status }) => status >= 300 && status !== 503),
      JSON.stringify(answers),
    ).toEqual([]);
    for (const { status, reason } of answers) if (status === 503) expect(reason).toMatch(/retry/);
    expect(recoveredMs).toBeLessThan(10_000);
    expect(b.clusterView()?.leader()?.workerId).toBe(a.workerId);
    // The leader took the writer back with a newer epoch: the producer that fenced it is fenced in turn.
    await expect(
      intruder.send({ key: "sink~public~x~y", value: "", properties: { "pulsar-connect-writer": "intruder" } }),
    ).rejects.toThrow();
    await intruder.close().catch(() => undefined);
    // Every change goes through again, from either worker.
    for (const worker of [a, b]) {
      const stop = await http(worker.url, "POST", `/admin/v3/sources/${namespace}/before/stop`);
      expect(stop.status, stop.text).toBeLessThan(300);
      const start = await http(worker.url, "POST", `/admin/v3/sources/${namespace}/before/start`);
      expect(start.status, start.text).toBeLessThan(300);
    }
    await until(
      async () => (await http(a.url, "GET", `/admin/v3/sources/${namespace}`)).json?.includes("after") === true,
      10_000,
      "the new source listed on the leader",
    );
  }, 60_000);
});
