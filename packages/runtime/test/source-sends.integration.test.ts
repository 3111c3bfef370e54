// What a source instance does when a send fails, against the real broker: a failure that passes is sent again by a
// new producer in order while the source waits; a record the broker can never take ends the instance instead of
// vanishing; ATMOST_ONCE counts what it drops. Also the EFFECTIVELY_ONCE "already stored" check per partition and
// the order of records sent to a `destinationTopic`.
import { ConnectorError, defineSource, type SourceRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInstance, resolveSourceConfig } from "../src/index.ts";
import { pulsarAdmin, uniqueNames, waitFor } from "./helpers.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const admin = pulsarAdmin(ADMIN_URL);
const unique = uniqueNames();
let client: PulsarClient;

beforeAll(() => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL, operationTimeoutMs: 5000 });
});
afterAll(async () => {
  await client.close();
});

async function namespaceWithDeduplication(): Promise<string> {
  const namespace = `public/${unique("src")}`;
  await admin("PUT", `/admin/v2/namespaces/${namespace}`);
  await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
  return namespace;
}

/** Every message of `topic` from the start, as parsed JSON, in topic order (per partition when partitioned). */
async function readAll(topic: string, expected: number, timeoutMs = 20_000): Promise<Array<{ id: number }>> {
  const consumer = await client.subscribe({
    topic,
    subscription: unique("check"),
    subscriptionInitialPosition: "Earliest",
  });
  const values: Array<{ id: number }> = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (values.length < expected && Date.now() < deadline) {
      const message = await consumer.receive(Math.max(1, deadline - Date.now())).catch(() => undefined);
      if (!message) break;
      values.push(JSON.parse(message.data.toString()) as { id: number });
      await consumer.acknowledge(message);
    }
  } finally {
    await consumer.close();
  }
  return values;
}

interface FedRecord {
  id: number;
  bytes?: number;
  key?: string;
  sequence?: bigint;
  destinationTopic?: string;
}

/** A source fed by the test; `replays` gives records a fail handler (a source that can re-read). */
function fedSource(
  options: { replays?: boolean; partitionId?: string; ackStores?: (id: number) => Promise<void> } = {},
) {
  const queue: FedRecord[] = [];
  const acked: number[] = [];
  const failed: number[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const definition = defineSource({
    name: "fed",
    description: "emits what the test feeds it",
    config: z.object({}),
    async open() {
      return {
        async read({ maxRecords, signal }) {
          if (queue.length === 0) {
            if (ended) return null;
            await new Promise<void>((resolve) => {
              wake = resolve;
              const timer = setTimeout(resolve, 50);
              signal.addEventListener(
                "abort",
                () => {
                  clearTimeout(timer);
                  resolve();
                },
                { once: true },
              );
            });
            wake = undefined;
          }
          return queue.splice(0, maxRecords).map((fed) => {
            const value = fed.bytes ? { id: fed.id, pad: "x".repeat(fed.bytes) } : { id: fed.id };
            const record: SourceRecord = { value, partitionId: options.partitionId ?? "fed-0" };
            record.sequence = fed.sequence ?? BigInt(fed.id);
            if (fed.key !== undefined) record.key = fed.key;
            if (fed.destinationTopic !== undefined) record.destinationTopic = fed.destinationTopic;
            record.ack = async () => {
              await options.ackStores?.(fed.id);
              acked.push(fed.id);
            };
            if (options.replays) {
              record.fail = () => {
                failed.push(fed.id);
              };
            }
            return record;
          });
        },
        async close() {},
      };
    },
  });
  return {
    definition,
    acked,
    failed,
    feed(records: FedRecord[]) {
      queue.push(...records);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}

function sourceInstance(
  definition: ReturnType<typeof fedSource>["definition"],
  topicName: string,
  processingGuarantees: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE" | "ATMOST_ONCE",
) {
  const resolved = resolveSourceConfig({
    name: unique("src"),
    archive: "builtin://fed",
    topicName,
    processingGuarantees,
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  return createInstance({
    kind: "source",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
}

const ids = (from: number, count: number): FedRecord[] => Array.from({ length: count }, (_, i) => ({ id: from + i }));
const TOO_BIG = 6 * 1024 * 1024;

describe("a source send that fails for a passing reason", () => {
  it("waits for the topic to come back, says so in its status, pauses the source and then sends every record in order", async () => {
    const namespace = await namespaceWithDeduplication();
    // Without auto-creation a deleted topic stays away until the test creates it again.
    await admin("POST", `/admin/v2/namespaces/${namespace}/autoTopicCreation`, { allowAutoTopicCreation: false });
    const topic = `persistent://${namespace}/${unique("out")}`;
    const path = `/admin/v2/persistent/${namespace}/${topic.split("/").pop()}`;
    await admin("PUT", path);
    for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
      const source = fedSource({ partitionId: unique("p") });
      const instance = sourceInstance(source.definition, topic, guarantee);
      await instance.start();
      source.feed(ids(0, 100));
      await waitFor(() => source.acked.length === 100, "the first records to be stored");

      await admin("DELETE", `${path}?force=true`);
      source.feed(ids(100, 100));
      await waitFor(
        () => /^waiting for the broker: /.test(instance.status().state ?? ""),
        "the status to say the instance waits for the broker",
      );
      // A read already under way when the wait began may still return; after it, the source is not read again.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const readBefore = instance.stats.received;
      source.feed(ids(200, 100));
      // Paused: nothing more is read from the source while the broker cannot take records (a negative check,
      // so it can only watch for a while).
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(instance.stats.received).toBe(readBefore);
      expect(source.acked.length).toBeLessThan(300);

      await admin("PUT", path);
      source.end();
      await instance.done;
      expect(instance.status().error).toBe("");
      expect([...source.acked].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      // The first 100 went with the deleted topic; everything after the deletion is there, once and in order.
      const values = await readAll(topic, 200);
      expect(values.map((v) => v.id)).toEqual(Array.from({ length: 200 }, (_, i) => 100 + i));
      await admin("DELETE", `${path}?force=true`);
      await admin("PUT", path);
    }
  });
});

describe("a record the broker can never take", () => {
  it("ends an ATLEAST_ONCE instance whose source cannot replay, with an error naming the reason, instead of dropping it", async () => {
    const topic = `persistent://public/default/${unique("big")}`;
    const source = fedSource();
    const instance = sourceInstance(source.definition, topic, "ATLEAST_ONCE");
    await instance.start();
    source.feed([...ids(0, 5), { id: 5, bytes: TOO_BIG }, ...ids(6, 5)]);
    source.end();
    await expect(instance.done).rejects.toThrow(/cannot be stored .*instead of losing it.*exceeds the broker limit/);
    expect(instance.status().error).toMatch(/exceeds the broker limit/);
    expect(source.acked).not.toContain(5);
  });

  it("under EFFECTIVELY_ONCE fails the record at a replaying source and sends nothing behind it, so it cannot pass for stored after a restart", async () => {
    const namespace = await namespaceWithDeduplication();
    const topic = `persistent://${namespace}/${unique("big")}`;
    const source = fedSource({ replays: true });
    const instance = sourceInstance(source.definition, topic, "EFFECTIVELY_ONCE");
    await instance.start();
    source.feed([...ids(0, 5), { id: 5, bytes: TOO_BIG }, ...ids(6, 5)]);
    await expect(instance.done).rejects.toThrow(/exceeds the broker limit/);
    expect(source.failed).toContain(5);
    const values = await readAll(topic, 11, 3000);
    expect(values.map((v) => v.id)).toEqual([0, 1, 2, 3, 4]);
  });

  it("is dropped and counted under ATMOST_ONCE while the rest flows", async () => {
    const topic = `persistent://public/default/${unique("big")}`;
    const source = fedSource();
    const instance = sourceInstance(source.definition, topic, "ATMOST_ONCE");
    await instance.start();
    source.feed([...ids(0, 5), { id: 5, bytes: TOO_BIG }, ...ids(6, 5)]);
    source.end();
    await instance.done;
    expect(instance.stats.dropped).toBe(1);
    expect(instance.stats.written).toBe(10);
    expect(instance.stats.systemExceptions).toBeGreaterThanOrEqual(1);
  });
});

describe("ATMOST_ONCE at the source", () => {
  it("sends a batch only once its acks settled, and a commit that cannot pass sends nothing and ends the instance", async () => {
    const topic = `persistent://public/default/${unique("amo")}`;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let commits = 0;
    const source = fedSource({
      ackStores: async (id) => {
        commits += 1;
        await released;
        if (id === 13) throw new ConnectorError("WRITE_FAILED", "position store unavailable", { retryable: false });
      },
    });
    const instance = sourceInstance(source.definition, topic, "ATMOST_ONCE");
    source.feed(ids(0, 10));
    await instance.start();
    await waitFor(() => commits === 10, "the first batch to be read and its commit to begin");
    // Its acks have not settled: nothing of it may reach the topic yet (a negative check, so it watches a while).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(instance.stats.written).toBe(0);
    release();
    await waitFor(() => instance.stats.written === 10, "the first batch to be sent once its acks settled");
    source.feed(ids(10, 10));
    await expect(instance.done).rejects.toThrow(
      /could not commit records before sending them.*position store unavailable/,
    );
    expect(instance.status().error).toMatch(/position store unavailable/);
    const values = await readAll(topic, 20, 3000);
    expect(values.map((v) => v.id)).toEqual(ids(0, 10).map((r) => r.id));
  });
});

describe("ATMOST_ONCE at the source, a commit that fails for a passing reason", () => {
  it("is tried again with backoff, and the batch is sent once, after it succeeded", async () => {
    const topic = `persistent://public/default/${unique("amr")}`;
    let failures = 2;
    const source = fedSource({
      ackStores: async (id) => {
        if (id === 3 && failures > 0) {
          failures -= 1;
          throw new ConnectorError("WRITE_FAILED", "position store briefly away", { retryable: true });
        }
      },
    });
    const instance = sourceInstance(source.definition, topic, "ATMOST_ONCE");
    source.feed(ids(0, 10));
    await instance.start();
    await waitFor(() => instance.stats.written === 10, "the batch to be sent after its commit went through");
    source.end();
    await instance.done;
    expect(failures).toBe(0);
    expect(instance.status().error).toBe("");
    const values = await readAll(topic, 20, 3000);
    expect(values.map((v) => v.id)).toEqual(ids(0, 10).map((r) => r.id));
  });
});

describe("EFFECTIVELY_ONCE on a partitioned topic", () => {
  it("compares a record's sequence with what its own partition stored, so a lagging partition's records are sent after a restart", async () => {
    const namespace = await namespaceWithDeduplication();
    const name = unique("parted");
    const topic = `persistent://${namespace}/${name}`;
    await admin("PUT", `/admin/v2/persistent/${namespace}/${name}/partitions`, 2);
    const partitionId = unique("pid");
    // Before the "restart": partition 0 stored up to sequence 99 under the instance's producer name, partition 1
    // stored nothing (its records were in flight when the instance died).
    const earlier = await client.createProducer({ topic: `${topic}-partition-0`, producerName: partitionId });
    await earlier.send({ value: JSON.stringify({ id: -1 }), sequenceId: 99n });
    await earlier.close();

    const source = fedSource({ partitionId });
    const instance = sourceInstance(source.definition, topic, "EFFECTIVELY_ONCE");
    await instance.start();
    // Keyless records: their partition follows their sequence id, odd ones go to partition 1.
    source.feed(ids(0, 100));
    source.end();
    await instance.done;
    const partition1 = await readAll(`${topic}-partition-1`, 50);
    expect(partition1.map((v) => v.id)).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i + 1));
  });
});

describe("records with a destinationTopic under EFFECTIVELY_ONCE", () => {
  it("reach the topic in order, none dropped as a duplicate", async () => {
    const namespace = await namespaceWithDeduplication();
    const destination = `persistent://${namespace}/${unique("dest")}`;
    const source = fedSource();
    const instance = sourceInstance(
      source.definition,
      `persistent://${namespace}/${unique("main")}`,
      "EFFECTIVELY_ONCE",
    );
    await instance.start();
    source.feed(ids(0, 300).map((r) => ({ ...r, destinationTopic: destination })));
    source.end();
    await instance.done;
    const values = await readAll(destination, 300, 5000);
    expect(values.map((v) => v.id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
