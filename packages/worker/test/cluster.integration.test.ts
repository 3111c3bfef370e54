// Cluster mode with three worker processes on the shared Pulsar: twelve instances (six data-generator sources and
// six SQLite sinks, all at EFFECTIVELY_ONCE) spread over the workers; the worker owning the most instances is killed
// with SIGKILL, then the leader, then a worker is frozen with SIGSTOP for 60 s. Every time, the instances run again
// on the others within 10 s, the worker that comes back gets a share, and at the end every table holds each record
// exactly once.
import { join } from "node:path";
import { PulsarAdmin } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterWorker, TestCluster } from "./cluster-workers.ts";
import { http, linesOf, until } from "./helpers.ts";

const PORTS = [7311, 7312, 7313];
const PIPELINES = 6;
const RATE = 20;
const LEASE_MS = 3_000;
const FAILOVER_LIMIT_MS = 10_000;

const cluster = new TestCluster({
  runPrefix: "c",
  dirPrefix: "pulsar-connect-cluster-",
  leaseMs: LEASE_MS,
  processOptions: () => ({ stopTimeoutMs: 10_000 }),
});
const { adminUrl, run, namespace, workDir, workers } = cluster;

afterAll(() => cluster.close());

const sourceName = (i: number) => `gen-${i}`;
const sinkName = (i: number) => `rows-${i}`;
const topicOf = (i: number) => `persistent://${namespace}/${run}-data-${i}`;
const dbFileOf = (i: number) => join(workDir, `rows-${i}.db`);
const databases: Database.Database[] = [];

function rows(i: number): number {
  return ((databases[i] as Database.Database).prepare("SELECT count(*) AS n FROM people").get() as { n: number }).n;
}

/** Each instance (`source:gen-0:0`) -> where it runs, as the cluster's status answers it through `via`. */
async function placement(via: ClusterWorker): Promise<Map<string, { running: boolean; workerId: string }>> {
  const out = new Map<string, { running: boolean; workerId: string }>();
  for (let i = 0; i < PIPELINES; i += 1) {
    for (const [kind, name] of [
      ["source", sourceName(i)],
      ["sink", sinkName(i)],
    ] as const) {
      for (const instance of await cluster.instances(kind, name, via)) {
        out.set(`${kind}:${name}:${instance.instanceId}`, {
          running: instance.status.running,
          workerId: instance.status.workerId,
        });
      }
    }
  }
  return out;
}

/** Waits until all twelve instances run, each on one of the live workers; answers the count per worker. */
async function allRunning(timeoutMs: number, what: string): Promise<Record<string, number>> {
  let counts: Record<string, number> = {};
  await until(
    async () => {
      const live = new Set([...workers.values()].map((worker) => worker.workerId));
      const now = await placement(cluster.anyWorker());
      counts = {};
      for (const { running, workerId } of now.values()) {
        if (!running || !live.has(workerId)) return false;
        counts[workerId] = (counts[workerId] ?? 0) + 1;
      }
      return now.size === PIPELINES * 2;
    },
    timeoutMs,
    what,
  );
  return counts;
}

/**
 * Takes `victim` away with `signal` and measures, per pipeline that had an instance on it, the time from the signal
 * to the first second of records written after it (rows beyond those written at the signal plus one second's worth).
 */
async function takeAway(victim: ClusterWorker, signal: NodeJS.Signals): Promise<number[]> {
  const before = await placement(victim);
  const touched = new Set<number>();
  for (const [key, where] of before) {
    if (where.workerId === victim.workerId) touched.add(Number(/-(\d+):/.exec(key)?.[1]));
  }
  expect(touched.size, `the victim ${victim.workerId} runs instances`).toBeGreaterThan(0);
  const atSignal = Array.from({ length: PIPELINES }, (_, i) => rows(i));
  const start = Date.now();
  if (signal === "SIGSTOP") {
    victim.child.kill("SIGSTOP");
    workers.delete(victim.port);
  } else await cluster.kill(victim, signal);
  const recovered = new Map<number, number>();
  while (recovered.size < touched.size && Date.now() - start < 60_000) {
    for (const i of touched) {
      if (!recovered.has(i) && rows(i) >= (atSignal[i] as number) + RATE) recovered.set(i, Date.now() - start);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  expect(recovered.size, "every pipeline of the victim writes again").toBe(touched.size);
  await allRunning(FAILOVER_LIMIT_MS, "every instance running on the remaining workers");
  console.log(
    `${signal} of ${victim.workerId}: pipelines writing again after ${[...recovered.values()].join(", ")} ms`,
  );
  return [...recovered.values()];
}

describe("a cluster of three worker processes", () => {
  const failovers: number[] = [];

  beforeAll(async () => {
    const admin = new PulsarAdmin({ serviceUrl: adminUrl });
    await admin.createNamespace(namespace, { ifNotExists: true });
    // Sources at EFFECTIVELY_ONCE need broker deduplication on their topics.
    await admin.setDeduplication(namespace, true);
    for (let i = 0; i < PIPELINES; i += 1) {
      const db = new Database(dbFileOf(i));
      db.pragma("journal_mode = WAL");
      db.exec(
        "CREATE TABLE people (id INTEGER NOT NULL, firstName TEXT, lastName TEXT, email TEXT, age INTEGER, city TEXT, active INTEGER)",
      );
      databases.push(db);
    }
    await Promise.all(PORTS.map((port) => cluster.start(port)));
  }, 60_000);

  afterAll(() => {
    for (const db of databases) db.close();
  });

  it("spreads twelve EFFECTIVELY_ONCE instances over the three workers", { timeout: 120_000 }, async () => {
    for (let i = 0; i < PIPELINES; i += 1) {
      await cluster.create(`/admin/v3/sources/${namespace}/${sourceName(i)}`, {
        archive: "builtin://data-generator",
        topicName: topicOf(i),
        processingGuarantees: "EFFECTIVELY_ONCE",
        configs: { recordType: "people", ratePerSecond: RATE },
      });
      await cluster.create(`/admin/v3/sinks/${namespace}/${sinkName(i)}`, {
        archive: "builtin://jdbc-sqlite",
        inputs: [topicOf(i)],
        sourceSubscriptionPosition: "Earliest",
        processingGuarantees: "EFFECTIVELY_ONCE",
        configs: { jdbcUrl: `jdbc:sqlite:${dbFileOf(i)}`, tableName: "people" },
      });
    }
    // Another worker than the one that took it refuses a second create (400, as upstream): writes go to one writer.
    const again = await http(
      [...workers.values()][2]?.url as string,
      "POST",
      `/admin/v3/sinks/${namespace}/${sinkName(0)}`,
      {
        archive: "builtin://jdbc-sqlite",
        inputs: [topicOf(0)],
        configs: { jdbcUrl: `jdbc:sqlite:${dbFileOf(0)}`, tableName: "people" },
      },
    );
    expect(again.status, again.text).toBe(400);
    expect(again.json.reason).toBe(`Sink ${sinkName(0)} already exists`);
    const counts = await allRunning(60_000, "twelve running instances");
    expect(Object.values(counts).sort()).toEqual([4, 4, 4]);
    await until(() => databases.every((_, i) => rows(i) > RATE), 60_000, "rows in every table");
  });

  it("answers per-instance operations on any worker by reaching the owner", { timeout: 120_000 }, async () => {
    const path = `/admin/v3/sinks/${namespace}/${sinkName(1)}`;
    const owner = (await placement(cluster.anyWorker())).get(`sink:${sinkName(1)}:0`)?.workerId;
    const other = [...workers.values()].find((worker) => worker.workerId !== owner) as ClusterWorker;
    const ownerWorker = [...workers.values()].find((worker) => worker.workerId === owner) as ClusterWorker;
    const restartLines = (worker: ClusterWorker) =>
      linesOf(worker.log).filter((line) => line.includes("connector restart") && line.includes(sinkName(1)));
    expect((await http(other.url, "POST", `${path}/0/restart`)).status).toBeLessThan(300);
    expect(restartLines(ownerWorker), "the owner restarted the instance").toHaveLength(1);
    expect(restartLines(other), "the worker asked did not act itself").toHaveLength(0);
    expect((await http(other.url, "GET", `${path}/0/status`)).json.workerId, "the owner answers").toBe(owner);
    expect((await http(other.url, "POST", `${path}/0/stop`)).status).toBeLessThan(300);
    await until(
      async () => (await http(other.url, "GET", `${path}/status`)).json.instances[0].status.running === false,
      20_000,
      "the instance stopped on its owner",
    );
    expect((await http(other.url, "POST", `${path}/0/start`)).status).toBeLessThan(300);
    await allRunning(30_000, "the instance running again");
    // A write through a worker that does not lead reaches the leader: the update shows everywhere.
    const leader = await cluster.leaderId();
    const follower = [...workers.values()].find((worker) => worker.workerId !== leader) as ClusterWorker;
    const updated = await http(follower.url, "PUT", `/admin/v3/sources/${namespace}/${sourceName(1)}`, {
      configs: { recordType: "people", ratePerSecond: RATE + 1 },
    });
    expect(updated.status, updated.text).toBeLessThan(300);
    await until(
      async () => {
        const seen = await Promise.all(
          [...workers.values()].map(
            async (worker) =>
              (await http(worker.url, "GET", `/admin/v3/sources/${namespace}/${sourceName(1)}`)).json.configs
                .ratePerSecond,
          ),
        );
        return seen.every((rate) => rate === RATE + 1);
      },
      20_000,
      "every worker sees the update",
    );
    await allRunning(30_000, "twelve running instances after the update");
  });

  it("refuses a write marked as forwarded on a worker that does not lead", { timeout: 60_000 }, async () => {
    const leader = await cluster.leaderId();
    const follower = [...workers.values()].find((worker) => worker.workerId !== leader) as ClusterWorker;
    const name = `${run}-forged`;
    const forged = await http(
      follower.url,
      "POST",
      `/admin/v3/sinks/${namespace}/${name}`,
      {
        archive: "builtin://jdbc-sqlite",
        inputs: [topicOf(0)],
        configs: { jdbcUrl: "jdbc:sqlite::memory:", tableName: "people" },
      },
      { "x-pulsar-connect-forwarded": "someone" },
    );
    expect(forged.status, forged.text).toBe(503);
    for (const worker of workers.values()) {
      expect((await http(worker.url, "GET", `/admin/v3/sinks/${namespace}/${name}`)).status).toBe(404);
    }
  });

  it("refuses a connector package it cannot fetch, naming the URL", { timeout: 60_000 }, async () => {
    const answer = await http(cluster.anyWorker().url, "POST", `/admin/v3/sinks/${namespace}/${run}-fetched`, {
      archive: "http://127.0.0.1:9/connector.tgz",
      inputs: [topicOf(0)],
    });
    expect(answer.status, answer.text).toBe(400);
    expect(answer.json.reason).toContain("Cannot fetch the connector package from http://127.0.0.1:9/connector.tgz");
  });

  it("moves the instances of a worker killed with SIGKILL within 10 s, and gives it a share when it rejoins", {
    timeout: 180_000,
  }, async () => {
    const counts = await allRunning(30_000, "twelve running instances");
    const [busiest] = Object.entries(counts).sort(([, a], [, b]) => b - a)[0] as [string, number];
    const victim = [...workers.values()].find((worker) => worker.workerId === busiest) as ClusterWorker;
    const times = await takeAway(victim, "SIGKILL");
    failovers.push(...times);
    expect(Math.max(...times), `failover times ${times.join(", ")} ms`).toBeLessThanOrEqual(FAILOVER_LIMIT_MS);
    await cluster.start(victim.port);
    await until(
      async () => ((await allRunning(30_000, "twelve running instances"))[victim.workerId] ?? 0) >= 3,
      60_000,
      "the rejoined worker runs a share",
    );
  });

  it("moves the leader's instances within 10 s when the leader is killed", { timeout: 180_000 }, async () => {
    await allRunning(30_000, "twelve running instances");
    const leader = await cluster.leaderId();
    const victim = [...workers.values()].find((worker) => worker.workerId === leader);
    expect(victim, `the leader ${leader} is one of the workers`).toBeDefined();
    const times = await takeAway(victim as ClusterWorker, "SIGKILL");
    failovers.push(...times);
    expect(Math.max(...times), `failover times ${times.join(", ")} ms`).toBeLessThanOrEqual(FAILOVER_LIMIT_MS);
    await until(async () => (await cluster.leaderId()) !== leader, 20_000, "a new leader");
    await cluster.start((victim as ClusterWorker).port);
    await until(
      async () =>
        ((await allRunning(30_000, "twelve running instances"))[(victim as ClusterWorker).workerId] ?? 0) >= 3,
      60_000,
      "the rejoined worker runs a share",
    );
  });

  it("moves the instances of a worker frozen for 60 s, which stops them when it wakes up", {
    timeout: 240_000,
  }, async () => {
    const counts = await allRunning(30_000, "twelve running instances");
    const [busiest] = Object.entries(counts).sort(([, a], [, b]) => b - a)[0] as [string, number];
    const victim = [...workers.values()].find((worker) => worker.workerId === busiest) as ClusterWorker;
    const times = await takeAway(victim, "SIGSTOP");
    failovers.push(...times);
    expect(Math.max(...times), `failover times ${times.join(", ")} ms`).toBeLessThanOrEqual(FAILOVER_LIMIT_MS);
    await new Promise((done) => setTimeout(done, 60_000));
    victim.child.kill("SIGCONT");
    workers.set(victim.port, victim);
    await until(
      () => linesOf(victim.log).some((line) => line.includes("cluster lease lapsed")),
      10_000,
      "the woken worker stops its instances because its lease lapsed",
    );
    await until(
      async () => ((await allRunning(30_000, "twelve running instances"))[victim.workerId] ?? 0) >= 3,
      60_000,
      "the woken worker runs a share again",
    );
  });

  it("hands the instances of a worker stopped with SIGTERM over after it drained them", {
    timeout: 120_000,
  }, async () => {
    await allRunning(30_000, "twelve running instances");
    const victim = [...workers.values()][0] as ClusterWorker;
    const start = Date.now();
    await cluster.kill(victim, "SIGTERM");
    expect(victim.child.exitCode, "the worker exits normally after draining").toBe(0);
    await allRunning(FAILOVER_LIMIT_MS, "every instance running on the remaining workers");
    console.log(`SIGTERM of ${victim.workerId}: every instance running on the others after ${Date.now() - start} ms`);
    await cluster.start(victim.port);
    await allRunning(60_000, "twelve running instances after the rejoin");
  });

  it("holds every record exactly once in every table", { timeout: 180_000 }, async () => {
    for (let i = 0; i < PIPELINES; i += 1) {
      const answer = await http(
        cluster.anyWorker().url,
        "POST",
        `/admin/v3/sources/${namespace}/${sourceName(i)}/stop`,
      );
      expect(answer.status, answer.text).toBeLessThan(300);
    }
    const admin = new PulsarAdmin({ serviceUrl: adminUrl });
    for (let i = 0; i < PIPELINES; i += 1) {
      await until(
        async () => {
          const stats = (await admin.getTopicStats(topicOf(i))) as {
            subscriptions?: Record<string, { msgBacklog?: number }>;
          };
          return Object.values(stats.subscriptions ?? {}).every((sub) => sub.msgBacklog === 0);
        },
        60_000,
        `pipeline ${i} drained`,
      );
      const summary = databases[i]
        ?.prepare("SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high FROM people")
        .get() as { n: number; ids: number; low: number; high: number };
      expect(summary.n, `pipeline ${i}: no duplicate`).toBe(summary.ids);
      // The generator numbers its records from 1.
      expect(summary.low, `pipeline ${i}: starts at the first record`).toBe(1);
      expect(summary.high, `pipeline ${i}: no record missing`).toBe(summary.n);
    }
    console.log(`failover times (ms): ${failovers.join(", ")}`);
    // A delete through a worker that does not run the sink stops it where it runs before its subscription goes.
    const subscription = `${namespace}/${sinkName(0)}`;
    expect(await admin.getSubscriptions(topicOf(0))).toContain(subscription);
    const owner = (await placement(cluster.anyWorker())).get(`sink:${sinkName(0)}:0`)?.workerId;
    const other = [...workers.values()].find((worker) => worker.workerId !== owner) as ClusterWorker;
    const deleted = await http(other.url, "DELETE", `/admin/v3/sinks/${namespace}/${sinkName(0)}`);
    expect(deleted.status, deleted.text).toBeLessThan(300);
    await new Promise((done) => setTimeout(done, 2 * LEASE_MS));
    expect(await admin.getSubscriptions(topicOf(0)), "no consumer brought the subscription back").not.toContain(
      subscription,
    );
    for (const worker of workers.values()) {
      expect((await http(worker.url, "GET", `/admin/v3/sinks/${namespace}/${sinkName(0)}`)).status).toBe(404);
    }
  });
});
