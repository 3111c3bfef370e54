// Operations on a cluster of three worker processes on the shared Pulsar: a stopped instance restarted through the
// worker that owns it, rebalance and drain (through the REST API, the pulsar-connect CLI and Apache Pulsar's own
// pulsar-admin), and connector packages (uploaded, or read from a file:// URL) that every worker installs from the
// cluster's package topic, so that the instances run wherever they are placed, also after the worker that received
// the package was killed.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterWorker, type InstanceStatuses, TestCluster } from "./cluster-workers.ts";
import { npmPack, writeArchiveSink } from "./fixtures/archive-sink.ts";
import { http, linesOf, runCommand, until } from "./helpers.ts";
import { javaAvailable, pulsarAdminClasspath } from "./pulsar-admin/classpath.ts";
import { runPulsarAdmin } from "./pulsar-admin/run-pulsar-admin.ts";

const PORTS = [7201, 7202, 7203];
const LEASE_MS = 3_000;
const CLI = join(import.meta.dirname, "../../cli/bin/pulsar-connect.js");

const cluster = new TestCluster({
  runPrefix: "co",
  dirPrefix: "pulsar-connect-cluster-ops-",
  leaseMs: LEASE_MS,
  dataDirPerStart: true,
  processOptions: (port) => ({ stopTimeoutMs: 5_000, fileDirs: [allowedOf(port)] }),
});
const { serviceUrl, adminUrl, run, namespace, workDir, workers } = cluster;
/** Each worker reads file:// archives from a folder of its own. */
const allowedOf = (port: number): string => join(workDir, `allowed-${port}`);

/** Keys of the cluster's package topic: `<sha512 in hex>/<chunk>` per package chunk. */
async function packageTopicKeys(): Promise<string[]> {
  return (await cluster.readTopic("packages")).map((message) => message.key ?? "");
}

async function roles(): Promise<{ leader: ClusterWorker; followers: ClusterWorker[] }> {
  let leader: ClusterWorker | undefined;
  await until(
    async () => {
      const id = await cluster.leaderId();
      leader = [...workers.values()].find((worker) => worker.workerId === id);
      return leader !== undefined;
    },
    30_000,
    "a leader among the running workers",
  );
  const chosen = leader as ClusterWorker;
  return { leader: chosen, followers: [...workers.values()].filter((worker) => worker !== chosen) };
}

/** Waits until every instance of the connector runs on a live worker. */
async function allRunning(kind: "sink" | "source", name: string, timeoutMs: number): Promise<InstanceStatuses> {
  let now: InstanceStatuses = [];
  await until(
    async () => {
      const live = new Set([...workers.values()].map((worker) => worker.workerId));
      now = await cluster.instances(kind, name);
      return now.length > 0 && now.every(({ status }) => status.running && live.has(status.workerId));
    },
    timeoutMs,
    `every instance of ${name} running`,
  );
  return now;
}

async function assignments(): Promise<Record<string, string[]>> {
  return (await http(cluster.anyWorker().url, "GET", "/admin/v2/worker/assignments")).json as Record<string, string[]>;
}

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCommand(process.execPath, [CLI, ...args]);
}

async function publish(topic: string, values: string[]): Promise<void> {
  const client = new PulsarClient({ serviceUrl });
  try {
    const producer = await client.createProducer({ topic });
    for (const value of values) await producer.send({ value });
    await producer.close();
  } finally {
    await client.close();
  }
}

afterAll(() => cluster.close());

describe("operations on a cluster of three worker processes", { timeout: 180_000 }, () => {
  const source = `${run}-gen`;
  const sourcePath = `/admin/v3/sources/${namespace}/${source}`;

  beforeAll(async () => {
    for (const port of PORTS) mkdirSync(allowedOf(port), { recursive: true });
    await new PulsarAdmin({ serviceUrl: adminUrl }).createNamespace(namespace, { ifNotExists: true });
    await Promise.all(PORTS.map((port) => cluster.start(port)));
    await cluster.create(
      sourcePath,
      {
        archive: "builtin://data-generator",
        topicName: `persistent://${namespace}/${run}-generated`,
        parallelism: 3,
        configs: { recordType: "people", ratePerSecond: 1 },
      },
      "the source created",
    );
    await until(
      async () => new Set((await allRunning("source", source, 60_000)).map(({ status }) => status.workerId)).size === 3,
      60_000,
      "one instance of the source on each worker",
    );
  }, 120_000);

  it("restarts a stopped instance through the follower that owns it, as upstream's restart", async () => {
    const { followers } = await roles();
    const owner = followers[0] as ClusterWorker;
    const instance = (await cluster.instances("source", source)).find(
      ({ status }) => status.workerId === owner.workerId,
    );
    expect(instance, `an instance on the follower ${owner.workerId}`).toBeDefined();
    const id = (instance as InstanceStatuses[number]).instanceId;
    const stopped = await http(owner.url, "POST", `${sourcePath}/${id}/stop`);
    expect(stopped.status, stopped.text).toBeLessThan(300);
    await until(
      async () => !(await cluster.instances("source", source))[id]?.status.running,
      20_000,
      "the instance stopped",
    );
    const restarted = await http(owner.url, "POST", `${sourcePath}/${id}/restart`);
    expect(restarted.status, restarted.text).toBeLessThan(300);
    await allRunning("source", source, 20_000);
    // The connector's restart through a follower starts a stopped instance too.
    expect((await http(owner.url, "POST", `${sourcePath}/${id}/stop`)).status).toBeLessThan(300);
    await until(
      async () => !(await cluster.instances("source", source))[id]?.status.running,
      20_000,
      "the instance stopped",
    );
    const all = await http(followers[1]?.url as string, "POST", `${sourcePath}/restart`);
    expect(all.status, all.text).toBeLessThan(300);
    await allRunning("source", source, 20_000);
  });

  it("streams to the console the log lines of instances that run on other workers", async () => {
    const viewer = cluster.anyWorker();
    const others = new Set(
      (await cluster.instances("source", source))
        .map(({ status }) => status.workerId)
        .filter((workerId) => workerId !== viewer.workerId),
    );
    expect(others.size, "instances on other workers").toBeGreaterThan(0);
    const abort = new AbortController();
    const answer = await fetch(`${viewer.url}/console/api/v1/events/connector/source/${namespace}/${source}`, {
      signal: abort.signal,
    });
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    const seen = new Set<string>();
    const seqs: number[] = [];
    let text = "";
    const deadline = Date.now() + 20_000;
    try {
      while ([...others].some((workerId) => !seen.has(workerId)) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        const events = text.split("\n\n");
        text = events.pop() ?? "";
        for (const event of events) {
          if (!event.startsWith("event: logs\n")) continue;
          const data = JSON.parse(event.slice(event.indexOf("data: ") + 6)) as {
            lines: { seq: number; fields: { workerId?: string } }[];
          };
          for (const line of data.lines) {
            seqs.push(line.seq);
            if (line.fields.workerId !== undefined) seen.add(line.fields.workerId);
          }
        }
      }
    } finally {
      abort.abort();
    }
    expect([...seen].sort(), "lines from every other worker running an instance").toEqual([...others].sort());
    expect(seqs, "one increasing sequence").toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("rebalances on the leader, from any worker, with the REST API, the CLI and Apache Pulsar's pulsar-admin", async () => {
    const { leader, followers } = await roles();
    // fetch follows the follower's 307 to the leader, as pulsar-admin does.
    const viaFollower = await http(followers[0]?.url as string, "PUT", "/admin/v2/worker/rebalance");
    expect(viaFollower.status, viaFollower.text).toBe(204);
    const byCli = await cli("--admin-url", followers[1]?.url as string, "functions-worker", "rebalance");
    expect(byCli.code, byCli.stderr).toBe(0);
    expect(byCli.stdout).toContain("Rebalance command sent successfully");
    if (javaAvailable()) {
      const classpath = pulsarAdminClasspath();
      const clientConf = join(workDir, "client.conf");
      writeFileSync(clientConf, "");
      for (const target of [leader, followers[0] as ClusterWorker]) {
        const java = await runPulsarAdmin(classpath, clientConf, target.url, ["functions-worker", "rebalance"]);
        expect(java.code, java.stderr).toBe(0);
      }
    }
    const counts = Object.values(await assignments()).map((list) => list.length);
    expect(counts.sort()).toEqual([1, 1, 1]);
    await allRunning("source", source, 30_000);
  });

  it("drains a worker: its instances move, it gets none until it restarts, and the status says so", async () => {
    const { followers } = await roles();
    const drained = followers[0] as ClusterWorker;
    const status = async () =>
      (await http(followers[1]?.url as string, "GET", `/admin/v2/worker/leader/drain?workerId=${drained.workerId}`))
        .json as { status: string; lastError: string };
    expect(await status()).toEqual({
      status: "ERROR",
      lastError: `Worker ${drained.workerId} not found in drain records`,
    });
    const byCli = await cli(
      "--admin-url",
      followers[1]?.url as string,
      "functions-worker",
      "drain",
      "--worker-id",
      drained.workerId,
    );
    expect(byCli.code, byCli.stderr).toBe(0);
    expect(byCli.stdout).toContain("Drain command sent successfully");
    await until(async () => (await status()).status === "SUCCESS", 30_000, "the drain finished");
    const placed = await allRunning("source", source, 30_000);
    expect(placed.map(({ status }) => status.workerId)).not.toContain(drained.workerId);
    expect((await assignments())[drained.workerId]).toBeUndefined();
    const again = await http(
      cluster.anyWorker().url,
      "PUT",
      `/admin/v2/worker/leader/drain?workerId=${drained.workerId}`,
    );
    expect(again.status, again.text).toBe(412);
    expect(again.json.reason).toBe(`Worker ${drained.workerId} was not yet removed after a prior drain op; try later`);
    const shown = await cli(
      "--admin-url",
      drained.url,
      "functions-worker",
      "get-drain-status",
      "--worker-id",
      drained.workerId,
    );
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual({ status: "SUCCESS", lastError: "" });
    // A restart makes it a new member: it is placed on again.
    await cluster.kill(drained);
    await cluster.start(drained.port);
    await until(
      async () =>
        (await allRunning("source", source, 30_000)).some(({ status }) => status.workerId === drained.workerId),
      60_000,
      "the restarted worker runs an instance again",
    );
  });

  it("runs an uploaded package on every worker, also after the worker that received it was killed", async () => {
    const packed = npmPack(
      writeArchiveSink(join(workDir, "sink-v1"), { version: "1.0.0", label: "v1" }),
      join(workDir, "packed"),
    );
    const { followers } = await roles();
    const receiver = followers[0] as ClusterWorker;
    const name = `${run}-uploaded`;
    const topic = `persistent://${namespace}/${run}-uploaded-in`;
    const out = join(workDir, "uploaded.txt");
    const form = new FormData();
    form.set(
      "sinkConfig",
      JSON.stringify({
        inputs: [topic],
        parallelism: 3,
        configs: { path: out },
        sourceSubscriptionPosition: "Earliest",
      }),
    );
    form.set("data", new Blob([new Uint8Array(readFileSync(packed))]), "connector.tgz");
    const created = await http(receiver.url, "POST", `/admin/v3/sinks/${namespace}/${name}`, form);
    expect(created.status, created.text).toBe(204);
    const placed = await allRunning("sink", name, 90_000);
    expect(new Set(placed.map(({ status }) => status.workerId)).size, "instances on every worker").toBe(3);
    await publish(topic, ["a", "b", "c"]);
    await until(() => linesOf(out).length === 3, 30_000, "three lines through the uploaded package");
    await cluster.kill(receiver);
    await allRunning("sink", name, 30_000);
    await publish(topic, ["d", "e", "f"]);
    await until(() => linesOf(out).length >= 6, 30_000, "lines after the receiver was killed");
    expect([...new Set(linesOf(out))].sort()).toEqual(["v1:a", "v1:b", "v1:c", "v1:d", "v1:e", "v1:f"]);
    await cluster.start(receiver.port);
    await until(async () => (await assignments())[receiver.workerId] !== undefined, 30_000, "the receiver placed on");
  });

  it("reads a file:// package on the worker that received the request and runs it everywhere", async () => {
    const packed = npmPack(
      writeArchiveSink(join(workDir, "sink-v2"), { version: "2.0.0", label: "v2" }),
      join(workDir, "packed-v2"),
    );
    const { followers } = await roles();
    const receiver = followers[0] as ClusterWorker;
    // Only the receiving worker may read this file: it is in its fileDirs and no other worker's.
    const file = join(allowedOf(receiver.port), "sink-v2.tgz");
    copyFileSync(packed, file);
    const name = `${run}-file`;
    const topic = `persistent://${namespace}/${run}-file-in`;
    const out = join(workDir, "file.txt");
    const created = await http(receiver.url, "POST", `/admin/v3/sinks/${namespace}/${name}`, {
      archive: `file://${file}`,
      inputs: [topic],
      parallelism: 3,
      sourceSubscriptionPosition: "Earliest",
      configs: { path: out },
    });
    expect(created.status, created.text).toBe(204);
    const placed = await allRunning("sink", name, 90_000);
    expect(new Set(placed.map(({ status }) => status.workerId)).size, "instances on several workers").toBeGreaterThan(
      1,
    );
    await publish(topic, ["x", "y", "z"]);
    await until(() => linesOf(out).length === 3, 30_000, "three lines through the file:// package");
    expect(linesOf(out).sort()).toEqual(["v2:x", "v2:y", "v2:z"]);
    // The leader reads a file:// archive sent to it from its own fileDirs, where this file is not.
    const { leader } = await roles();
    const onLeader = await http(leader.url, "POST", `/admin/v3/sinks/${namespace}/${name}-leader`, {
      archive: `file://${file}`,
      inputs: [topic],
      configs: { path: out },
    });
    expect(onLeader.status, onLeader.text).toBe(403);
    expect(onLeader.json.reason).toContain("outside the worker's fileDirs");
    // The header a follower sets when it forwards, sent by a client straight to the leader, names a package that is
    // in the cluster's topic: it is not honoured.
    const integrity = `sha512-${createHash("sha512").update(readFileSync(packed)).digest("base64")}`;
    const forged = await http(
      leader.url,
      "POST",
      `/admin/v3/sinks/${namespace}/${name}-forged`,
      { archive: `file://${file}`, inputs: [topic], configs: { path: out } },
      { "x-pulsar-connect-shared-package": integrity },
    );
    expect(forged.status, forged.text).toBe(400);
    expect(forged.json.reason).toContain("was not kept by a cluster worker");
    // A file that is no tarball is refused by the worker that read it, before anything is kept.
    const notTarball = join(allowedOf(receiver.port), "notes.tgz");
    writeFileSync(notTarball, "not a package");
    const refused = await http(receiver.url, "POST", `/admin/v3/sinks/${namespace}/${name}-notes`, {
      archive: `file://${notTarball}`,
      inputs: [topic],
      configs: { path: out },
    });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.json.reason).toContain("not a gzip'd tar file");
    const notesHex = createHash("sha512").update("not a package").digest("hex");
    expect((await packageTopicKeys()).filter((key) => key.startsWith(notesHex))).toEqual([]);
    const folder = Buffer.from(integrity.slice("sha512-".length), "base64").toString("hex");
    const installedOn = () =>
      [...workers.values()].filter((worker) => existsSync(join(worker.dataDir, "packages", folder)));
    expect(installedOn().length, "installed on the workers that run it").toBeGreaterThan(1);
    const deleted = await http(cluster.anyWorker().url, "DELETE", `/admin/v3/sinks/${namespace}/${name}`);
    expect(deleted.status, deleted.text).toBe(204);
    await until(() => installedOn().length === 0, 30_000, "the package folder removed on every worker");
  });
});
