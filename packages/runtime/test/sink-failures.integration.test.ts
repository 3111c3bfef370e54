// What a sink instance does with records it cannot write, per guarantee, against the real broker: retries of
// retryable per-record failures, auth failures, the dead-letter default, acknowledgement order around dead-lettering,
// stored positions after a Failover switch, and a dead-letter producer whose topic went away.
import { ConnectorError, defineSink, type PulsarPosition, type SinkRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ConnectorInstance,
  createInstance,
  resolveSinkConfig,
  type SinkInstanceStatusData,
} from "../src/index.ts";
import { uniqueNames, waitFor } from "./helpers.ts";

const services = inject("services" as never) as { pulsar?: { serviceUrl: string; webServiceUrl: string } };
const SERVICE_URL = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const unique = uniqueNames();
let client: PulsarClient;

beforeAll(() => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL });
});
afterAll(async () => {
  await client.close();
});

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  const text = await response.text();
  if (response.status === 404) return undefined;
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const statsPath = (topic: string) => `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`;

async function backlog(topic: string, subscription: string): Promise<number | undefined> {
  const stats = (await admin("GET", statsPath(topic))) as
    | { subscriptions: Record<string, { msgBacklog: number }> }
    | undefined;
  return stats?.subscriptions[subscription]?.msgBacklog;
}

/** Messages ever published to `topic`; 0 when it does not exist. */
async function published(topic: string): Promise<number> {
  const stats = (await admin("GET", statsPath(topic))) as { msgInCounter?: number } | undefined;
  return stats?.msgInCounter ?? 0;
}

async function produce(topic: string, values: Array<unknown | Buffer>): Promise<void> {
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  for (const value of values) {
    await producer.send({ value: Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value)) });
  }
  await producer.close();
}

const ids = (count: number) => Array.from({ length: count }, (_, id) => ({ id }));

type Write = (
  records: Array<SinkRecord<{ id: number }>>,
) => Promise<{ failed: Array<{ index: number; error: Error }> }>;

/** A sink whose write is the test's function; `positions` makes it store positions like a SQL sink would. */
function scriptedSink(write: Write, positions?: Map<string, PulsarPosition>) {
  return defineSink({
    name: "scripted",
    description: "writes through the test's function",
    config: z.object({}),
    storesPositions: positions !== undefined,
    async open() {
      return {
        write: (records: SinkRecord[]) => write(records as Array<SinkRecord<{ id: number }>>),
        ...(positions ? { storedPositions: async () => [...positions.values()] } : {}),
        async close() {},
      };
    },
  });
}

function sinkInstance(
  topic: string,
  definition: ReturnType<typeof scriptedSink>,
  extra: Record<string, unknown> = {},
  options: { instanceId?: number; client?: PulsarClient; name?: string } = {},
) {
  const resolved = resolveSinkConfig({
    name: options.name ?? unique("sink"),
    archive: "builtin://scripted",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    negativeAckRedeliveryDelayMs: 100,
    ...extra,
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "sink",
    config: resolved.value,
    definition,
    instanceId: options.instanceId ?? 0,
    pulsar: { client: options.client ?? client, adminUrl: ADMIN_URL },
  });
  return { instance, config: resolved.value };
}

const defaultDlq = (topic: string, subscription: string) => `${topic}-${subscription.replaceAll("/", "-")}-DLQ`;

describe("per-record failures", () => {
  it("retries a retryable per-record failure in order instead of dead-lettering it", async () => {
    const topic = `persistent://public/default/${unique("retryable")}`;
    const written: number[] = [];
    let refusals = 0;
    const definition = scriptedSink(async (records) => {
      const failed: Array<{ index: number; error: Error }> = [];
      records.forEach((record, index) => {
        if (record.value.id >= 5 && refusals < 2) {
          failed.push({
            index,
            error: new ConnectorError("WRITE_FAILED", "NOT_LEADER_OR_FOLLOWER", { retryable: true }),
          });
        } else written.push(record.value.id);
      });
      if (failed.length > 0) refusals += 1;
      return { failed };
    });
    const { instance, config } = sinkInstance(topic, definition);
    await instance.start();
    await produce(topic, ids(10));
    await waitFor(() => new Set(written).size === 10, "all ten records written");
    expect(written.filter((id) => id >= 5)).toEqual([5, 6, 7, 8, 9]);
    expect(await published(defaultDlq(topic, config.sourceSubscriptionName))).toBe(0);
    await instance.stop();
  });

  it.each([
    ["the whole batch", true],
    ["a record", false],
  ])("an auth failure of %s fails the instance, says why, and dead-letters nothing", async (_what, wholeBatch) => {
    const topic = `persistent://public/default/${unique("auth")}`;
    const denied = new ConnectorError("AUTH_FAILED", "TOPIC_AUTHORIZATION_FAILED: not authorized to write orders");
    const definition = scriptedSink(async (records) => {
      if (wholeBatch) throw denied;
      return { failed: records.map((_record, index) => ({ index, error: denied })) };
    });
    const { instance, config } = sinkInstance(topic, definition, { maxMessageRetries: 1 });
    await instance.start();
    await produce(topic, ids(5));
    await expect(instance.done).rejects.toThrow(/not authorized/);
    expect((instance.status() as SinkInstanceStatusData).error).toContain("not authorized");
    expect(await published(defaultDlq(topic, config.sourceSubscriptionName))).toBe(0);
    expect(await backlog(topic, config.sourceSubscriptionName)).toBe(5);
  });
});

describe("dead-letter default", () => {
  it("without maxMessageRetries redelivers a refused record and creates no dead-letter topic", async () => {
    const topic = `persistent://public/default/${unique("nodlq")}`;
    const written: number[] = [];
    let refusals = 0;
    const definition = scriptedSink(async (records) => {
      const failed: Array<{ index: number; error: Error }> = [];
      records.forEach((record, index) => {
        if (record.value.id === 3 && refusals < 2) {
          refusals += 1;
          failed.push({ index, error: new ConnectorError("INVALID_RECORD", "refused", { retryable: false }) });
        } else written.push(record.value.id);
      });
      return { failed };
    });
    const { instance, config } = sinkInstance(topic, definition);
    await instance.start();
    await produce(topic, ids(6));
    await waitFor(() => written.includes(3), "the refused record written after redelivery");
    expect(refusals).toBe(2);
    expect(await published(defaultDlq(topic, config.sourceSubscriptionName))).toBe(0);
    await instance.stop();
  });

  it("refuses a deadLetterTopic without maxMessageRetries, naming the field", () => {
    const resolved = resolveSinkConfig({
      name: "x",
      archive: "builtin://scripted",
      inputs: ["in"],
      deadLetterTopic: "persistent://public/default/dead",
    });
    expect(resolved.ok).toBe(false);
    if (!resolved.ok) expect(resolved.issues.map((issue) => issue.path)).toContain("deadLetterTopic");
  });
});

describe("MANUAL refusals", () => {
  // The connector acknowledges what it wrote; a record it refuses was never its to settle, so the runtime fails it
  // as upstream fails the source record of a sink write that threw: redelivered, then dead-lettered when configured.
  const refusingSink = (refused: number, written: number[], refusals: { count: number }, times: number) =>
    scriptedSink(async (records) => {
      const failed: Array<{ index: number; error: Error }> = [];
      records.forEach((record, index) => {
        if (record.value.id === refused && refusals.count < times) {
          refusals.count += 1;
          failed.push({ index, error: new ConnectorError("INVALID_RECORD", "refused", { retryable: false }) });
        } else {
          written.push(record.value.id);
          record.ack?.();
        }
      });
      return { failed };
    });

  it("redelivers a refused record instead of leaving it unsettled", async () => {
    const topic = `persistent://public/default/${unique("manualredeliver")}`;
    const written: number[] = [];
    const refusals = { count: 0 };
    const { instance, config } = sinkInstance(topic, refusingSink(3, written, refusals, 2), {
      processingGuarantees: "MANUAL",
    });
    await instance.start();
    await produce(topic, ids(6));
    await waitFor(() => written.includes(3), "the refused record written after its redelivery");
    expect(refusals.count).toBe(2);
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "every record acked");
    await instance.stop();
  });

  it("dead-letters a refused record after maxMessageRetries and acknowledges it", async () => {
    const topic = `persistent://public/default/${unique("manualdlq")}`;
    const written: number[] = [];
    const refusals = { count: 0 };
    const { instance, config } = sinkInstance(topic, refusingSink(2, written, refusals, 1_000), {
      processingGuarantees: "MANUAL",
      maxMessageRetries: 1,
    });
    await instance.start();
    await produce(topic, ids(5));
    const dlq = defaultDlq(topic, config.sourceSubscriptionName);
    await waitFor(async () => (await published(dlq)) === 1, "the refused record dead-lettered");
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "every record settled");
    expect(written.sort((a, b) => a - b)).toEqual([0, 1, 3, 4]);
    await instance.stop();
  });
});

describe("EFFECTIVELY_ONCE acknowledgement around dead-lettering", () => {
  it("an undecodable message does not acknowledge earlier records that are not written", async () => {
    const topic = `persistent://public/default/${unique("undecodable")}`;
    await admin("POST", `/admin/v2/schemas/${topic.replace("persistent://", "")}/schema`, {
      type: "JSON",
      schema: JSON.stringify({ type: "record", name: "Row", fields: [{ name: "id", type: "int" }] }),
      properties: {},
    });
    const written: number[] = [];
    let release: (() => void) | undefined;
    let blocked = false;
    const definition = scriptedSink(async (records) => {
      if (records.some((record) => record.value.id > 10)) {
        blocked = true;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        throw new ConnectorError("CONNECTION_FAILED", "target went away");
      }
      for (const record of records) written.push(record.value.id);
      return { failed: [] };
    });
    const { instance, config } = sinkInstance(topic, definition, {
      processingGuarantees: "EFFECTIVELY_ONCE",
      maxMessageRetries: 1,
    });
    const values: Array<unknown | Buffer> = ids(20);
    values[10] = Buffer.from("{not json");
    await produce(topic, values);
    await instance.start();
    await waitFor(() => blocked, "the write after the undecodable message");
    const stopped = instance.stop();
    release?.();
    await stopped;
    await waitFor(
      async () =>
        (await backlog(topic, config.sourceSubscriptionName)) === 20 - written.length - instance.stats.deadLettered,
      "every message neither written nor dead-lettered to stay in the backlog",
      5_000,
    );
  });

  it("a refused record whose dead-letter send never succeeded is not acknowledged at stop", async () => {
    const namespace = `public/${unique("noauto")}`;
    await admin("PUT", `/admin/v2/namespaces/${namespace}`);
    await admin("POST", `/admin/v2/namespaces/${namespace}/autoTopicCreation`, { allowAutoTopicCreation: false });
    const topic = `persistent://public/default/${unique("refused")}`;
    const written: number[] = [];
    const definition = scriptedSink(async (records) => {
      const failed: Array<{ index: number; error: Error }> = [];
      records.forEach((record, index) => {
        if (record.value.id === 5) failed.push({ index, error: new ConnectorError("INVALID_RECORD", "refused") });
        else written.push(record.value.id);
      });
      return { failed };
    });
    const { instance, config } = sinkInstance(topic, definition, {
      processingGuarantees: "EFFECTIVELY_ONCE",
      maxMessageRetries: 1,
      deadLetterTopic: `persistent://${namespace}/missing-dlq`,
    });
    await produce(topic, ids(20));
    await instance.start();
    await waitFor(() => instance.stats.systemExceptions > 0, "a failed dead-letter send");
    await instance.stop();
    await waitFor(
      async () => (await backlog(topic, config.sourceSubscriptionName)) === 15,
      "the refused record and everything after it to stay in the backlog",
      5_000,
    );
  });
});

describe("EFFECTIVELY_ONCE with parallelism > 1", () => {
  it("a Failover standby reloads the stored positions when it becomes active and writes nothing twice", async () => {
    const topic = `persistent://public/default/${unique("failover")}`;
    const name = unique("sink");
    const positions = new Map<string, PulsarPosition>();
    const rows: number[] = [];
    let subscription = "";
    let hang = false;
    let hung = false;
    const definition = scriptedSink(async (records) => {
      for (const record of records) {
        rows.push(record.value.id);
        positions.set(record.position.topic, record.position);
      }
      if (hang) {
        // Committed, but the instance never gets to acknowledge (a broker switch drops its acks).
        hung = true;
        await new Promise(() => {});
      }
      return { failed: [] };
    }, positions);
    const clients = [new PulsarClient({ serviceUrl: SERVICE_URL }), new PulsarClient({ serviceUrl: SERVICE_URL })];
    const extra = { processingGuarantees: "EFFECTIVELY_ONCE", parallelism: 2 };
    const instances: ConnectorInstance[] = [];
    for (const instanceId of [0, 1]) {
      const { instance, config } = sinkInstance(topic, definition, extra, {
        instanceId,
        client: clients[instanceId] as PulsarClient,
        name,
      });
      await instance.start();
      instances.push(instance);
      subscription = config.sourceSubscriptionName;
    }
    await produce(topic, ids(5));
    await waitFor(() => rows.length === 5, "the first five rows");
    const stats = (await admin("GET", statsPath(topic))) as {
      subscriptions: Record<string, { activeConsumerName?: string }>;
    };
    const active = stats.subscriptions[subscription]?.activeConsumerName?.endsWith(":1") ? 1 : 0;
    hang = true;
    await produce(topic, [{ id: 5 }, { id: 6 }]);
    await waitFor(() => hung, "the active instance to commit without acknowledging");
    await (clients[active] as PulsarClient).close();
    hang = false;
    await produce(topic, [{ id: 7 }]);
    await waitFor(() => rows.includes(7), "the standby to take over");
    expect(rows).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await (instances[1 - active] as ConnectorInstance).stop();
    await (clients[1 - active] as PulsarClient).close();
    void (instances[active] as ConnectorInstance).stop();
  });
});

describe("EFFECTIVELY_ONCE when the active consumer moves to another instance", () => {
  it("the instance that lost a partition writes nothing it had prefetched from it, so nothing is skipped", async () => {
    const name = unique("sink");
    const base = unique("moved");
    const topic = `persistent://public/default/${base}`;
    const partition1 = `${topic}-partition-1`;
    await admin("PUT", `/admin/v2/persistent/public/default/${base}/partitions`, 2);
    const total = 6000;
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await Promise.all(
      Array.from({ length: total }, (_, id) =>
        producer.send({ value: Buffer.from(JSON.stringify({ id })), partition: id % 2 }),
      ),
    );
    await producer.close();
    // One store for both instances, fenced like the SQL sinks: a record at or before the stored position of its
    // topic was written by the other instance; the rest is written and the position moves to the last one.
    const positions = new Map<string, PulsarPosition>();
    const rows: number[] = [];
    const covered = (position: PulsarPosition) => {
      const stored = positions.get(position.topic);
      if (!stored) return false;
      if (stored.ledgerId !== position.ledgerId) return stored.ledgerId > position.ledgerId;
      if (stored.entryId !== position.entryId) return stored.entryId > position.entryId;
      return stored.batchIndex >= position.batchIndex;
    };
    const opened: Array<() => void> = [];
    const gates = [0, 1].map(() => new Promise<void>((resolve) => opened.push(resolve)));
    const definition = (instanceId: number) =>
      scriptedSink(async (records) => {
        await gates[instanceId];
        for (const record of records) {
          if (covered(record.position)) continue;
          rows.push(record.value.id);
          positions.set(record.position.topic, record.position);
        }
        return { failed: [] };
      }, positions);
    const clients = [new PulsarClient({ serviceUrl: SERVICE_URL }), new PulsarClient({ serviceUrl: SERVICE_URL })];
    const extra = { processingGuarantees: "EFFECTIVELY_ONCE", parallelism: 2 };
    const [first, second] = [0, 1].map((instanceId) =>
      sinkInstance(topic, definition(instanceId), extra, {
        instanceId,
        client: clients[instanceId] as PulsarClient,
        name,
      }),
    ) as [ReturnType<typeof sinkInstance>, ReturnType<typeof sinkInstance>];
    const subscription = first.config.sourceSubscriptionName;
    // Instance 0 alone owns both partitions; its first write hangs while its buffer and receiver queues fill up.
    await first.instance.start();
    let read = -1;
    await waitFor(async () => {
      const before = read;
      await new Promise((resolve) => setTimeout(resolve, 500));
      read = (first.instance.status() as SinkInstanceStatusData).numReadFromPulsar;
      return read > 1000 && read === before;
    }, "instance 0 to prefetch");
    // Failover on a partitioned topic: partition i goes to consumer i % 2 in name order, so instance 1 takes
    // partition 1 over. The broker tells both about it when it rewinds, a second later.
    await second.instance.start();
    const activeOf = async (partitionTopic: string) =>
      (
        (await admin("GET", statsPath(partitionTopic))) as {
          subscriptions: Record<string, { activeConsumerName?: string }>;
        }
      ).subscriptions[subscription]?.activeConsumerName;
    await waitFor(async () => (await activeOf(partition1))?.endsWith(":1") === true, "instance 1 to own partition 1");
    await waitFor(
      () => (second.instance.status() as SinkInstanceStatusData).numReadFromPulsar > 0,
      "instance 1 to receive partition 1",
    );
    // Instance 0 writes what it still holds first: none of partition 1 may be among it.
    opened[0]?.();
    let written = -1;
    await waitFor(async () => {
      const before = written;
      await new Promise((resolve) => setTimeout(resolve, 500));
      written = rows.length;
      return written === before;
    }, "instance 0 to write what it holds");
    opened[1]?.();
    await waitFor(() => new Set(rows).size === total, "every record written", 60_000).catch(() => {});
    const missing = Array.from({ length: total }, (_, id) => id).filter((id) => !rows.includes(id));
    expect({ missing: missing.length, firstMissing: missing.slice(0, 5), written: rows.length }).toEqual({
      missing: 0,
      firstMissing: [],
      written: total,
    });
    await Promise.all([first.instance.stop(), second.instance.stop()]);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe("EFFECTIVELY_ONCE on a partitioned topic with parallelism 3", () => {
  it("after an instance dies holding committed but unacknowledged rows, the others write nothing twice", async () => {
    const name = unique("sink");
    const base = unique("parts");
    const topic = `persistent://public/default/${base}`;
    await admin("PUT", `/admin/v2/persistent/public/default/${base}/partitions`, 3);
    const positions = new Map<string, PulsarPosition>();
    const rows: number[] = [];
    let armed = false;
    let hungInstance: number | undefined;
    const clients = [0, 1, 2].map(() => new PulsarClient({ serviceUrl: SERVICE_URL }));
    const instances: ConnectorInstance[] = [];
    for (const instanceId of [0, 1, 2]) {
      const definition = scriptedSink(async (records) => {
        for (const record of records) {
          rows.push(record.value.id);
          positions.set(record.position.topic, record.position);
        }
        if (armed && hungInstance === undefined) {
          // Committed, but this instance never acknowledges: it dies holding its partition.
          hungInstance = instanceId;
          await new Promise(() => {});
        }
        return { failed: [] };
      }, positions);
      const { instance } = sinkInstance(
        topic,
        definition,
        { processingGuarantees: "EFFECTIVELY_ONCE", parallelism: 3 },
        { instanceId, client: clients[instanceId] as PulsarClient, name },
      );
      await instance.start();
      instances.push(instance);
    }
    await produce(topic, ids(30));
    await waitFor(() => new Set(rows).size === 30, "the first 30 rows");
    armed = true;
    await produce(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ id: 30 + i })),
    );
    await waitFor(() => hungInstance !== undefined, "an instance to commit without acknowledging");
    await (clients[hungInstance as number] as PulsarClient).close();
    await produce(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ id: 60 + i })),
    );
    await waitFor(() => new Set(rows).size === 90, "all 90 rows");
    expect(rows.length).toBe(90);
    for (const [index, instance] of instances.entries()) {
      if (index === hungInstance) void instance.stop();
      else {
        await instance.stop();
        await (clients[index] as PulsarClient).close();
      }
    }
  });
});

describe("EFFECTIVELY_ONCE when the topic is unloaded while a write is retried", () => {
  it("writes nothing twice when the broker delivers again what the runner still holds", async () => {
    const topic = `persistent://public/default/${unique("unload-eo")}`;
    const positions = new Map<string, PulsarPosition>();
    const rows: number[] = [];
    let down = true;
    let attempts = 0;
    // The target is down: the first batch is retried while the rest of the records wait in the runner. The unload
    // makes the broker deliver every unacknowledged message again, behind the copies the runner already holds.
    const definition = scriptedSink(async (records) => {
      attempts += 1;
      if (down) throw new ConnectorError("CONNECTION_FAILED", "target unreachable: connection refused");
      for (const record of records) {
        rows.push(record.value.id);
        positions.set(record.position.topic, record.position);
      }
      return { failed: [] };
    }, positions);
    const { instance } = sinkInstance(topic, definition, { processingGuarantees: "EFFECTIVELY_ONCE" });
    await instance.start();
    await produce(topic, ids(200));
    const received = () => (instance.status() as SinkInstanceStatusData).numReadFromPulsar;
    await waitFor(() => attempts >= 2 && received() === 200, "every record received while the first write fails");
    await admin("PUT", `/admin/v2/persistent/${topic.replace("persistent://", "")}/unload`);
    await waitFor(() => received() >= 300, "the records delivered again after the unload");
    down = false;
    await waitFor(() => new Set(rows).size === 200, "all 200 rows");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await instance.stop();
    const twice = rows.filter((id, index) => rows.indexOf(id) !== index);
    expect(twice).toEqual([]);
  });
});

describe("dead-letter producer", () => {
  it("is recreated after its topic was deleted, instead of wedging the sink", async () => {
    const namespace = `public/${unique("dlqns")}`;
    await admin("PUT", `/admin/v2/namespaces/${namespace}`);
    await admin("POST", `/admin/v2/namespaces/${namespace}/autoTopicCreation`, { allowAutoTopicCreation: false });
    const dlq = `persistent://${namespace}/dead`;
    await admin("PUT", `/admin/v2/persistent/${namespace}/dead`);
    const topic = `persistent://public/default/${unique("dlqgone")}`;
    const written: number[] = [];
    const definition = scriptedSink(async (records) => {
      const failed: Array<{ index: number; error: Error }> = [];
      records.forEach((record, index) => {
        if (record.value.id % 10 === 3) failed.push({ index, error: new ConnectorError("INVALID_RECORD", "refused") });
        else written.push(record.value.id);
      });
      return { failed };
    });
    const { instance } = sinkInstance(topic, definition, { maxMessageRetries: 1, deadLetterTopic: dlq });
    await instance.start();
    await produce(topic, ids(5));
    await waitFor(async () => (await published(dlq)) === 1, "the first dead letter");
    await admin("DELETE", `/admin/v2/persistent/${namespace}/dead?force=true`);
    await produce(topic, [{ id: 13 }, { id: 14 }]);
    await waitFor(() => instance.stats.systemExceptions > 0, "a dead-letter send to the deleted topic to fail");
    await admin("PUT", `/admin/v2/persistent/${namespace}/dead`);
    // The counter moves once the send is confirmed, which may come after the message is readable.
    await waitFor(
      async () => (await published(dlq)) === 1 && written.includes(14) && instance.stats.deadLettered === 2,
      "the second dead letter",
    );
    expect(instance.stats.deadLettered).toBe(2);
    await instance.stop();
  });
});
