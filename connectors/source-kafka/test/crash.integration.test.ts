// The Kafka source runs through the runtime in a child process over Kafka records, kills itself with SIGKILL at a
// seeded Pulsar send whose receipt is pending (PC_CRASH_SEED=<n> replays a run; the seed is printed), and is started
// again with the same consumer group. What reaches Pulsar must match the processing guarantee, record by record.
import { join } from "node:path";
import { defaultPartitioner, kafkaBrokers, testKafka, uniqueName } from "@pulsar-connect/kafka-common/testing";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import {
  crashSeed,
  createDedupNamespace,
  exited,
  killPoint,
  type SourceProcessSettings,
  startSourceProcess,
  storedCount,
  storedIds,
} from "@pulsar-connect/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { committed } from "./kafka-to-pulsar.ts";

// The kill point is a send number, not a moment: the topic size no longer has to outrun the polling.
const TOTAL = 20_000;
const TOTAL_AT_LEAST_ONCE = 20_000;
const seed = crashSeed();
const { serviceUrl, adminUrl } = pulsarEndpoints();
const kafka = testKafka("source-kafka-test");
const run = Date.now().toString(36);
const kafkaAdmin = kafka.admin();

beforeAll(async () => {
  process.stdout.write(`kafka source crash tests: kill points from PC_CRASH_SEED=${seed}\n`);
  await kafkaAdmin.connect();
});

afterAll(async () => {
  await kafkaAdmin.disconnect();
});

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

async function killMidStreamAndRestart(
  guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE" | "ATMOST_ONCE",
  pulsarTopic: string,
  total: number,
) {
  const kafkaTopic = await kafkaTopicWith(total);
  const settings: SourceProcessSettings = {
    connectorModule: join(import.meta.dirname, "../src/index.ts"),
    serviceUrl,
    adminUrl,
    secrets: {},
    guarantee,
    topic: pulsarTopic,
    name: `kafka-crash-${guarantee.toLowerCase()}-${run}`,
    configs: {
      bootstrapServers: kafkaBrokers().join(","),
      groupId: uniqueName("crash-g"),
      topic: kafkaTopic,
      offsetCommitIntervalMs: 100,
    },
  };
  const groupId = settings.configs.groupId as string;
  const killAtSend = killPoint(seed, total, { ATLEAST_ONCE: 1, EFFECTIVELY_ONCE: 2, ATMOST_ONCE: 3 }[guarantee]);
  const first = startSourceProcess({ ...settings, killAtSend });
  expect(await exited(first), "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  const atKill = await storedCount(adminUrl, pulsarTopic);
  expect(atKill, "records published before the kill").toBeGreaterThan(0);
  expect(atKill, "the kill lands before the end of the stream").toBeLessThan(total);

  const second = startSourceProcess(settings);
  // Done when every Kafka record is committed and stored. ATMOST_ONCE commits before it sends and may lose the
  // records in flight at the kill; its graceful stop flushes what it committed last.
  const atMostOnce = guarantee === "ATMOST_ONCE";
  await vi.waitFor(
    async () => {
      expect(
        await committed(kafkaAdmin, groupId, kafkaTopic),
        "records committed by the restarted source",
      ).toBeGreaterThanOrEqual(total);
      if (!atMostOnce) expect(await storedCount(adminUrl, pulsarTopic), "records stored").toBeGreaterThanOrEqual(total);
    },
    { timeout: 300_000, interval: 250 },
  );
  second.kill("SIGTERM");
  expect((await exited(second)).code).toBe(0);
  const { received, seen, repeated } = await storedIds({ serviceUrl, adminUrl }, pulsarTopic);
  return { killAtSend, atKill, received, distinct: seen.size, repeated };
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
    const namespace = await createDedupNamespace(adminUrl, `kafka-crash-${run}`);
    const result = await killMidStreamAndRestart("EFFECTIVELY_ONCE", `persistent://${namespace}/from-kafka`, TOTAL);
    process.stdout.write(`kafka source crash EFFECTIVELY_ONCE: ${JSON.stringify(result)}\n`);
    expect(result.distinct).toBe(TOTAL);
    expect(result.repeated).toBe(0);
    expect(result.received).toBe(TOTAL);
  });
});
