// The Kafka source runs through the runtime in a child process over 50k Kafka records, is SIGKILLed mid-stream and
// started again with the same consumer group. What reaches Pulsar must match the processing guarantee.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { defaultPartitioner, kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulsarEndpoints } from "./pulsar.ts";

const TOTAL = 50_000;
// At-least-once runs faster than the stats can be polled; a bigger topic keeps the kill mid-stream.
const TOTAL_AT_LEAST_ONCE = 300_000;
const { serviceUrl, adminUrl } = pulsarEndpoints();
const kafka = testKafka("source-kafka-test");
const run = Date.now().toString(36);
let client: PulsarClient;
const kafkaAdmin = kafka.admin();

beforeAll(async () => {
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

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
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

/** Every id in a Pulsar topic, read from the earliest message until nothing arrives for 5 s. */
async function idsIn(pulsarTopic: string): Promise<{ received: number; distinct: number }> {
  const consumer = await client.subscribe({
    topic: pulsarTopic,
    subscription: `verify-${run}`,
    subscriptionType: "Exclusive",
    subscriptionInitialPosition: "Earliest",
  });
  const seen = new Set<number>();
  let received = 0;
  for (;;) {
    const message = await Promise.race([
      consumer.receive(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000)),
    ]);
    if (!message) break;
    received += 1;
    seen.add((JSON.parse(Buffer.from(message.data).toString()) as { id: number }).id);
    await consumer.acknowledge(message);
  }
  await consumer.close();
  return { received, distinct: seen.size };
}

async function killMidStreamAndRestart(
  guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE",
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
  const first = startChild(settings);
  await waitFor(async () => (await committed(groupId, kafkaTopic)) >= total * 0.1, 240_000, "10% committed to Kafka");
  first.kill("SIGKILL");
  await exited(first);
  // What the killed instance had committed: everything after it is read again by the next one.
  const atKill = await committed(groupId, kafkaTopic);

  const second = startChild(settings);
  let last = -1;
  let stableSince = Date.now();
  await waitFor(
    async () => {
      const now = await storedCount(pulsarTopic);
      if (now !== last) {
        last = now;
        stableSince = Date.now();
      }
      return now >= total && Date.now() - stableSince > 3000;
    },
    300_000,
    "the restarted source to catch up",
  );
  second.kill("SIGTERM");
  expect(await exited(second)).toBe(0);
  return { atKill, ...(await idsIn(pulsarTopic)) };
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
    expect(result.atKill).toBeLessThan(TOTAL_AT_LEAST_ONCE);
    expect(result.distinct).toBe(TOTAL_AT_LEAST_ONCE);
    expect(result.received).toBeGreaterThanOrEqual(TOTAL_AT_LEAST_ONCE);
  });

  it(`EFFECTIVELY_ONCE with deduplication: each of ${TOTAL} records exactly once`, { timeout: 600_000 }, async () => {
    const namespace = `public/kafka-crash-${run}`;
    expect((await admin("PUT", `/admin/v2/namespaces/${namespace}`)).status).toBeLessThan(300);
    expect((await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true)).status).toBeLessThan(300);
    const result = await killMidStreamAndRestart("EFFECTIVELY_ONCE", `persistent://${namespace}/from-kafka`, TOTAL);
    process.stdout.write(`kafka source crash EFFECTIVELY_ONCE: ${JSON.stringify(result)}\n`);
    expect(result.atKill).toBeLessThan(TOTAL);
    expect(result.distinct).toBe(TOTAL);
    expect(result.received).toBe(TOTAL);
  });
});
