// The Kafka source runs through the runtime in a child process over Kafka records, kills itself with SIGKILL at a
// seeded Pulsar send whose receipt is pending (PC_CRASH_SEED=<n> replays a run; the seed is printed), and is started
// again with the same consumer group. What reaches Pulsar must match the processing guarantee, record by record.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { defaultPartitioner, kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulsarEndpoints } from "./pulsar.ts";

// The kill point is a send number, not a moment: the topic size no longer has to outrun the polling.
const TOTAL = 20_000;
const TOTAL_AT_LEAST_ONCE = 20_000;
const seed = Number(process.env.PC_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** A send number between 10% and 50% of `total`, from the seed. */
const killPoint = (total: number, salt: number) =>
  Math.floor(total / 10 + (((seed ^ (salt * 0x9e3779b9)) >>> 0) % Math.floor((total * 4) / 10)));
const { serviceUrl, adminUrl } = pulsarEndpoints();
const kafka = testKafka("source-kafka-test");
const run = Date.now().toString(36);
let client: PulsarClient;
const kafkaAdmin = kafka.admin();

beforeAll(async () => {
  process.stdout.write(`kafka source crash tests: kill points from PC_CRASH_SEED=${seed}\n`);
  client = new PulsarClient({ serviceUrl });
  await kafkaAdmin.connect();
});

afterAll(async () => {
  await client?.close();
  await kafkaAdmin.disconnect();
});

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(`${adminUrl}${path}`, init);
}

function startChild(settings: Record<string, unknown>): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/source-child.ts")],
    {
      env: { ...process.env, PC_KAFKA_CHILD: JSON.stringify({ serviceUrl, adminUrl, ...settings }) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    if (
      !text.includes("TimeoutNegativeWarning") &&
      !text.includes("Timeout duration") &&
      !text.includes("trace-warnings")
    ) {
      process.stderr.write(`[child] ${text}`);
    }
  });
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function kafkaTopicWith(count: number): Promise<string> {
  const topic = uniqueName("crash-src");
  await kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
  for (let first = 0; first < count; first += 1000) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 1000 }, (_, i) => ({
        key: `k${first + i}`,
        value: JSON.stringify({ id: first + i }),
      })),
    });
  }
  await producer.disconnect();
  return topic;
}

/** Sum over partitions of the group's committed offsets (records acked by the runtime and committed). */
async function committed(groupId: string, topic: string): Promise<number> {
  const [entry] = await kafkaAdmin.fetchOffsets({ groupId, topics: [topic] });
  return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** Messages stored in a Pulsar topic so far (persisted entries, duplicates included unless deduplicated). */
async function storedCount(pulsarTopic: string): Promise<number> {
  const path = pulsarTopic.replace("persistent://", "");
  const response = await admin("GET", `/admin/v2/persistent/${path}/stats`);
  if (response.status !== 200) return 0;
  return ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
}

/** How often each id is stored in a Pulsar topic: reads exactly as many messages as the broker says it holds. */
async function idsIn(pulsarTopic: string): Promise<{ received: number; distinct: number; repeated: number }> {
  const stored = await storedCount(pulsarTopic);
  const consumer = await client.subscribe({
    topic: pulsarTopic,
    subscription: `verify-${run}`,
    subscriptionType: "Exclusive",
    subscriptionInitialPosition: "Earliest",
  });
  const seen = new Map<number, number>();
  let received = 0;
  while (received < stored) {
    const message = await consumer.receive();
    received += 1;
    const { id } = JSON.parse(Buffer.from(message.data).toString()) as { id: number };
    seen.set(id, (seen.get(id) ?? 0) + 1);
    await consumer.acknowledge(message);
  }
  await consumer.close();
  const repeated = [...seen.values()].filter((n) => n > 1).length;
  return { received, distinct: seen.size, repeated };
}

async function killMidStreamAndRestart(
  guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE" | "ATMOST_ONCE",
  pulsarTopic: string,
  total: number,
) {
  const kafkaTopic = await kafkaTopicWith(total);
  const settings = {
    guarantee,
    pulsarTopic,
    name: `kafka-crash-${guarantee.toLowerCase()}-${run}`,
    configs: {
      bootstrapServers: kafkaBrokers().join(","),
      groupId: uniqueName("crash-g"),
      topic: kafkaTopic,
      offsetCommitIntervalMs: 100,
    },
  };
  const groupId = settings.configs.groupId;
  const killAtSend = killPoint(total, { ATLEAST_ONCE: 1, EFFECTIVELY_ONCE: 2, ATMOST_ONCE: 3 }[guarantee]);
  const first = startChild({ ...settings, killAtSend });
  expect(await exited(first), "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  const atKill = await storedCount(pulsarTopic);
  expect(atKill, "records published before the kill").toBeGreaterThan(0);
  expect(atKill, "the kill lands before the end of the stream").toBeLessThan(total);

  const second = startChild(settings);
  // Done when every Kafka record is committed and stored. ATMOST_ONCE commits before it sends and may lose the
  // records in flight at the kill; its graceful stop flushes what it committed last.
  const atMostOnce = guarantee === "ATMOST_ONCE";
  await waitFor(
    async () =>
      (await committed(groupId, kafkaTopic)) >= total && (atMostOnce || (await storedCount(pulsarTopic)) >= total),
    300_000,
    "the restarted source to commit every record",
  );
  second.kill("SIGTERM");
  expect((await exited(second)).code).toBe(0);
  return { killAtSend, atKill, ...(await idsIn(pulsarTopic)) };
}

describe("Kafka source killed mid-stream (runtime in a child process, real Kafka and Pulsar)", () => {
  it(`ATLEAST_ONCE: all ${TOTAL_AT_LEAST_ONCE} records reach Pulsar after a SIGKILL and a restart`, {
    timeout: 600_000,
  }, async () => {
    const result = await killMidStreamAndRestart(
      "ATLEAST_ONCE",
      `persistent://public/default/kafka-crash-alo-${run}`,
      TOTAL_AT_LEAST_ONCE,
    );
    process.stdout.write(`kafka source crash ATLEAST_ONCE: ${JSON.stringify(result)}\n`);
    expect(result.distinct).toBe(TOTAL_AT_LEAST_ONCE);
    expect(result.received).toBeGreaterThanOrEqual(TOTAL_AT_LEAST_ONCE);
  });

  it(`ATMOST_ONCE: none of ${TOTAL} records reaches Pulsar twice after a SIGKILL and a restart`, {
    timeout: 600_000,
  }, async () => {
    const result = await killMidStreamAndRestart(
      "ATMOST_ONCE",
      `persistent://public/default/kafka-crash-amo-${run}`,
      TOTAL,
    );
    process.stdout.write(`kafka source crash ATMOST_ONCE: ${JSON.stringify(result)}\n`);
    expect(result.repeated).toBe(0);
    expect(result.received).toBe(result.distinct);
    // What may be missing is at most what was committed and in flight at the kill, not the rest of the stream.
    expect(result.distinct).toBeGreaterThan(TOTAL - result.killAtSend);
  });

  it(`EFFECTIVELY_ONCE with deduplication: each of ${TOTAL} records exactly once`, { timeout: 600_000 }, async () => {
    const namespace = `public/kafka-crash-${run}`;
    expect((await admin("PUT", `/admin/v2/namespaces/${namespace}`)).status).toBeLessThan(300);
    expect((await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true)).status).toBeLessThan(300);
    const result = await killMidStreamAndRestart("EFFECTIVELY_ONCE", `persistent://${namespace}/from-kafka`, TOTAL);
    process.stdout.write(`kafka source crash EFFECTIVELY_ONCE: ${JSON.stringify(result)}\n`);
    expect(result.distinct).toBe(TOTAL);
    expect(result.repeated).toBe(0);
    expect(result.received).toBe(TOTAL);
  });
});
