// Behaviour of sink and source instances against the real broker: subscription types, acknowledgement per
// guarantee, dead-lettering, retries, deduplication checks and the Pulsar-backed state store.
import { ConnectorError, defineSink, defineSource, type SinkRecord, type SourceRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createInstance,
  PulsarStateStore,
  resolveSinkConfig,
  resolveSourceConfig,
  type SinkInstanceStatusData,
} from "../src/index.ts";
import { pulsarAdmin, uniqueNames } from "./helpers.ts";

const pulsarEndpoints = inject("services").pulsar;
if (pulsarEndpoints === undefined) throw new Error("test/services.json must list pulsar");
const SERVICE_URL = pulsarEndpoints.serviceUrl;
const ADMIN_URL = pulsarEndpoints.webServiceUrl;
const admin = pulsarAdmin(ADMIN_URL);
const unique = uniqueNames();
let client: PulsarClient;

beforeAll(() => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL });
});
afterAll(async () => {
  await client.close();
});

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function produce(topic: string, values: unknown[], key?: (i: number) => string): Promise<void> {
  const producer = await client.createProducer({ topic });
  await Promise.all(
    values.map((value, i) => {
      const message: { value: Buffer; key?: string } = { value: Buffer.from(JSON.stringify(value)) };
      if (key) message.key = key(i);
      return producer.send(message);
    }),
  );
  await producer.close();
}

/** A sink that keeps what it is given; `reject(value)` decides per record whether it fails. */
function memorySink(
  options: { reject?: (value: { id: number }) => ConnectorError | undefined; failWrites?: () => boolean } = {},
) {
  const written: Array<SinkRecord<{ id: number }>> = [];
  const definition = defineSink({
    name: "memory",
    description: "keeps records in memory",
    config: z.object({}),
    async open() {
      return {
        async write(records: SinkRecord[]) {
          if (options.failWrites?.())
            throw new ConnectorError("CONNECTION_FAILED", "target unreachable: connection refused");
          const failed: Array<{ index: number; error: Error }> = [];
          records.forEach((record, index) => {
            const error = options.reject?.(record.value as { id: number });
            if (error) failed.push({ index, error });
            else written.push(record as SinkRecord<{ id: number }>);
          });
          return { failed };
        },
        async close() {},
      };
    },
  });
  return { definition, written };
}

function sinkInstance(
  topic: string,
  definition: ReturnType<typeof memorySink>["definition"],
  extra: Record<string, unknown> = {},
) {
  const resolved = resolveSinkConfig({
    name: unique("sink"),
    archive: "builtin://memory",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    ...extra,
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "sink",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
  return { instance, config: resolved.value };
}

async function subscriptionType(topic: string, subscription: string): Promise<string | undefined> {
  const stats = (await admin("GET", `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`)) as {
    subscriptions: Record<string, { type?: string }>;
  };
  return stats.subscriptions[subscription]?.type;
}

describe("sink instances", () => {
  it.each([
    ["ATLEAST_ONCE", {}, "Shared"],
    ["ATMOST_ONCE", {}, "Shared"],
    ["EFFECTIVELY_ONCE", {}, "Failover"],
    ["ATLEAST_ONCE", { retainOrdering: true }, "Failover"],
    ["ATLEAST_ONCE", { retainKeyOrdering: true }, "Key_Shared"],
  ] as const)("under %s with %j subscribe as %s and write everything", async (guarantee, flags, expected) => {
    const topic = `persistent://public/default/${unique("subtype")}`;
    const { definition, written } = memorySink();
    const { instance, config } = sinkInstance(topic, definition, { processingGuarantees: guarantee, ...flags });
    await instance.start();
    await produce(topic, [{ id: 1 }, { id: 2 }, { id: 3 }], (i) => `k${i}`);
    await waitFor(() => written.length === 3, "three records written");
    expect(await subscriptionType(topic, config.sourceSubscriptionName)).toBe(expected);
    expect(written.map((record) => record.value.id)).toEqual([1, 2, 3]);
    expect(written[0]?.key).toBe("k0");
    await waitFor(async () => {
      const stats = (await admin("GET", `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`)) as {
        subscriptions: Record<string, { msgBacklog: number; unackedMessages?: number }>;
      };
      return stats.subscriptions[config.sourceSubscriptionName]?.msgBacklog === 0;
    }, "the backlog to be acknowledged");
    await instance.stop();
  });

  it("with maxMessageRetries sends a poison record to the dead-letter topic and keeps the rest flowing", async () => {
    const topic = `persistent://public/default/${unique("poison")}`;
    const { definition, written } = memorySink({
      reject: (value) =>
        value.id === 13
          ? new ConnectorError("INVALID_RECORD", "column amount: not a number", { retryable: false })
          : undefined,
    });
    const { instance, config } = sinkInstance(topic, definition, {
      maxMessageRetries: 1,
      negativeAckRedeliveryDelayMs: 100,
    });
    const dlq = `${topic}-${config.sourceSubscriptionName.replaceAll("/", "-")}-DLQ`;
    const dlqConsumer = await client.subscribe({
      topic: dlq,
      subscription: "inspect",
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
    });
    await instance.start();
    await produce(
      topic,
      Array.from({ length: 30 }, (_, id) => ({ id })),
    );
    await waitFor(() => written.length === 29, "29 good records written");
    expect(written.map((record) => record.value.id).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, id) => id).filter((id) => id !== 13),
    );
    const dead = await dlqConsumer.receive();
    expect(JSON.parse(Buffer.from(dead.data).toString())).toEqual({ id: 13 });
    expect(dead.properties.__pulsar_connect_error).toContain("not a number");
    expect(dead.properties.__pulsar_connect_origin_topic).toBe(topic);
    await dlqConsumer.acknowledge(dead);
    expect((instance.status() as SinkInstanceStatusData).numSinkExceptions).toBe(2);
    await instance.stop();
    await dlqConsumer.close();
  });

  it.each([
    ["ATMOST_ONCE", "acknowledged before the write: the failed batch is gone, never retried"],
    ["ATLEAST_ONCE", "acknowledged after the write: the failed batch is retried until written"],
  ] as const)("a write that fails once under %s: %s", async (guarantee, _difference) => {
    const topic = `persistent://public/default/${unique("difference")}`;
    let failNext = true;
    const firstBatch: number[] = [];
    const { definition, written } = memorySink({
      failWrites: () => {
        const fail = failNext;
        failNext = false;
        return fail;
      },
    });
    const noting = {
      ...definition,
      async open(config: never, context: never) {
        const sink = await definition.open(config, context);
        return {
          ...sink,
          write(records: SinkRecord[]) {
            if (firstBatch.length === 0)
              firstBatch.push(...records.map((record) => (record.value as { id: number }).id));
            return sink.write(records);
          },
        };
      },
    } as typeof definition;
    const { instance, config } = sinkInstance(topic, noting, { processingGuarantees: guarantee });
    await instance.start();
    const ids = Array.from({ length: 20 }, (_, id) => id);
    await produce(
      topic,
      ids.map((id) => ({ id })),
    );
    const backlog = async () => {
      const stats = (await admin("GET", `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`)) as {
        subscriptions: Record<string, { msgBacklog: number }>;
      };
      return stats.subscriptions[config.sourceSubscriptionName]?.msgBacklog;
    };
    await waitFor(async () => firstBatch.length > 0 && (await backlog()) === 0, "every message acknowledged");
    await waitFor(() => written.length >= ids.length - firstBatch.length, "the other records written");
    await instance.stop();
    const writtenIds = written.map((record) => record.value.id).sort((a, b) => a - b);
    expect(instance.stats.connectorExceptions).toBe(1);
    if (guarantee === "ATMOST_ONCE") {
      expect(writtenIds).toEqual(ids.filter((id) => !firstBatch.includes(id)));
    } else {
      expect(writtenIds).toEqual(ids);
    }
  });

  it("under ATMOST_ONCE writes nothing twice when the topic is unloaded while batches wait in the runner", async () => {
    const topic = `persistent://public/default/${unique("unload-am")}`;
    const { definition, written } = memorySink();
    let writes = 0;
    // Slow writes keep the runner's buffer full, so an unload finds received, not yet acknowledged messages there
    // that the broker then delivers again.
    const slow = {
      ...definition,
      batchSize: 10,
      async open(config: never, context: never) {
        const sink = await definition.open(config, context);
        return {
          ...sink,
          async write(records: SinkRecord[]) {
            writes++;
            await new Promise((resolve) => setTimeout(resolve, 150));
            return sink.write(records);
          },
        };
      },
    } as typeof definition;
    const { instance } = sinkInstance(topic, slow, { processingGuarantees: "ATMOST_ONCE" });
    await instance.start();
    const ids = Array.from({ length: 300 }, (_, id) => id);
    // Entries of five messages: more entries than one write takes, some of them split between writes.
    const producer = await client.createProducer({ topic, batchingMaxMessages: 5 });
    await Promise.all(ids.map((id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })));
    await producer.close();
    const path = `/admin/v2/persistent/${topic.replace("persistent://", "")}/unload`;
    for (const after of [2, 6, 10]) {
      await waitFor(() => writes >= after, `write ${after}`);
      await admin("PUT", path);
    }
    await waitFor(() => new Set(written.map((record) => record.value.id)).size >= ids.length - 60, "most records");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await instance.stop();
    const seen = new Map<number, number>();
    for (const record of written) seen.set(record.value.id, (seen.get(record.value.id) ?? 0) + 1);
    expect([...seen].filter(([, count]) => count > 1)).toEqual([]);
  });

  it("retries an unreachable target with backoff, says why in its status, and loses nothing", async () => {
    const topic = `persistent://public/default/${unique("retry")}`;
    let down = true;
    const attempts: number[] = [];
    const { definition, written } = memorySink({
      failWrites: () => {
        if (down) attempts.push(performance.now());
        return down;
      },
    });
    const { instance } = sinkInstance(topic, definition);
    await instance.start();
    await produce(
      topic,
      Array.from({ length: 20 }, (_, id) => ({ id })),
    );
    await waitFor(
      () => (instance.status() as SinkInstanceStatusData).state.startsWith("retrying write"),
      "a retrying state",
    );
    const status = instance.status() as SinkInstanceStatusData;
    expect(status.state).toContain("connection refused");
    expect(status.running).toBe(true);
    expect(status.latestSinkExceptions[0]?.exceptionString).toContain("unreachable");
    // The waits between attempts grow (200 ms, then 400 ms, give or take 10%): only lower bounds, which load cannot
    // break; a fixed retry interval fails the second one.
    await waitFor(() => attempts.length >= 3, "three failed attempts");
    down = false;
    const [first, second, third] = attempts as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(175);
    expect(third - second).toBeGreaterThanOrEqual(355);
    await waitFor(() => new Set(written.map((record) => record.value.id)).size === 20, "every record after recovery");
    expect((instance.status() as SinkInstanceStatusData).state).toBe("running");
    await instance.stop();
  });

  it("fails to start with field-level messages when the connector config is invalid", async () => {
    const definition = defineSink({
      name: "strict",
      description: "needs a url",
      config: z.object({ url: z.string().url() }),
      async open() {
        return { async write() {}, async close() {} };
      },
    });
    const resolved = resolveSinkConfig({
      name: "strict",
      archive: "builtin://strict",
      inputs: ["x"],
      configs: { url: 3 },
    });
    if (!resolved.ok) throw new Error("setup");
    const instance = createInstance({
      kind: "sink",
      config: resolved.value,
      definition,
      instanceId: 0,
      pulsar: { client, adminUrl: ADMIN_URL },
    });
    await expect(instance.start()).rejects.toMatchObject({
      code: "INVALID_CONFIG",
      message: expect.stringContaining("configs.url"),
    });
  });
});

describe("source instances", () => {
  function listSource(count: number, withSequence: boolean) {
    const acked: number[] = [];
    const definition = defineSource({
      name: "list",
      description: "emits ids",
      config: z.object({}),
      async open() {
        let next = 0;
        return {
          async read() {
            if (next >= count) return null;
            const record: SourceRecord = { value: { id: next } };
            const id = next;
            record.ack = () => {
              acked.push(id);
            };
            if (withSequence) {
              record.partitionId = "list-0";
              record.sequence = BigInt(next);
            }
            next += 1;
            return [record];
          },
          async close() {},
        };
      },
    });
    return { definition, acked };
  }

  /** A source instance of `definition` writing to `topicName`. */
  function sourceInstance(
    definition: ReturnType<typeof listSource>["definition"],
    topicName: string,
    processingGuarantees: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE" = "ATLEAST_ONCE",
    pulsarClient: PulsarClient = client,
  ) {
    const resolved = resolveSourceConfig({
      name: unique("src"),
      archive: "builtin://list",
      topicName,
      processingGuarantees,
    });
    if (!resolved.ok) throw new Error("setup");
    return createInstance({
      kind: "source",
      config: resolved.value,
      definition,
      instanceId: 0,
      pulsar: { client: pulsarClient, adminUrl: ADMIN_URL },
    });
  }

  it("acks source records after the send receipt under ATLEAST_ONCE", async () => {
    const topic = `persistent://public/default/${unique("src")}`;
    const { definition, acked } = listSource(50, false);
    // The client, except that it notes which ids the broker has confirmed; each ack is checked against it.
    const confirmed = new Set<number>();
    const ackedEarly: number[] = [];
    const watching = {
      subscribe: client.subscribe.bind(client),
      async createProducer(options: Parameters<PulsarClient["createProducer"]>[0]) {
        const producer = await client.createProducer(options);
        return new Proxy(producer, {
          get(target, property) {
            if (property !== "send") return Reflect.get(target, property, target);
            return async (message: Parameters<typeof producer.send>[0]) => {
              const receipt = await target.send(message);
              const value = (message as { value: Uint8Array }).value;
              confirmed.add((JSON.parse(Buffer.from(value).toString()) as { id: number }).id);
              return receipt;
            };
          },
        });
      },
    } as unknown as PulsarClient;
    const checked = {
      ...definition,
      async open(config: never, context: never) {
        const source = await definition.open(config, context);
        return {
          ...source,
          async read(options: never) {
            const records = await source.read(options);
            for (const record of records ?? []) {
              const ack = record.ack;
              const id = (record.value as { id: number }).id;
              record.ack = () => {
                if (!confirmed.has(id)) ackedEarly.push(id);
                return ack?.();
              };
            }
            return records;
          },
        };
      },
    } as typeof definition;
    const instance = sourceInstance(checked, topic, "ATLEAST_ONCE", watching);
    await instance.start();
    await instance.done;
    expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(ackedEarly, "records acknowledged before the broker confirmed them").toEqual([]);
    expect(instance.stats.written).toBe(50);
    const stats = (await admin("GET", `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`)) as {
      msgInCounter: number;
    };
    expect(stats.msgInCounter).toBe(50);
  });

  it("refuses EFFECTIVELY_ONCE with a clear error naming the namespace when deduplication is off", async () => {
    const namespace = `public/${unique("nodedup")}`;
    await admin("PUT", `/admin/v2/namespaces/${namespace}`);
    const { definition } = listSource(5, true);
    const instance = sourceInstance(definition, `persistent://${namespace}/out`, "EFFECTIVELY_ONCE");
    await expect(instance.start()).rejects.toThrow(new RegExp(`set-deduplication ${namespace} --enable`));
  });

  it("refuses records without partitionId and sequence under EFFECTIVELY_ONCE", async () => {
    const namespace = `public/${unique("dedup")}`;
    await admin("PUT", `/admin/v2/namespaces/${namespace}`);
    await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
    const { definition } = listSource(5, false);
    const instance = sourceInstance(definition, `persistent://${namespace}/out`, "EFFECTIVELY_ONCE");
    await instance.start();
    await expect(instance.done).rejects.toThrow(/partitionId and sequence/);
  });
});

describe("Pulsar-backed state", () => {
  it("survives a new store instance (restart) and counts", async () => {
    const name = unique("state");
    const pulsar = { client, adminUrl: ADMIN_URL };
    const first = new PulsarStateStore({ pulsar, tenant: "public", namespace: "default", name });
    await first.put("offset", new TextEncoder().encode("42"));
    await first.put("gone", new TextEncoder().encode("x"));
    await first.delete("gone");
    expect(await first.incrCounter("records", 5)).toBe(5n);
    expect(await first.incrCounter("records", 2n)).toBe(7n);
    await first.close();
    const second = new PulsarStateStore({ pulsar, tenant: "public", namespace: "default", name });
    expect(new TextDecoder().decode(await second.get("offset"))).toBe("42");
    expect(await second.get("gone")).toBeUndefined();
    expect(await second.getCounter("records")).toBe(7n);
    await second.close();
  });

  it("reads what was stored, whatever the topic's last message id says, and fails (never reads empty) without a broker", async () => {
    const name = unique("state");
    const stored = new PulsarStateStore({
      pulsar: { client, adminUrl: ADMIN_URL },
      tenant: "public",
      namespace: "default",
      name,
    });
    await stored.put("position", new TextEncoder().encode("1234"));
    await stored.close();
    // The admin API is not needed to read (its answers cannot tell where a compacted table ends).
    const withoutAdmin = new PulsarStateStore({
      pulsar: { client, adminUrl: "http://127.0.0.1:9" },
      tenant: "public",
      namespace: "default",
      name,
    });
    expect(new TextDecoder().decode(await withoutAdmin.get("position"))).toBe("1234");
    await withoutAdmin.close();
    // No broker: the read fails, so a source cannot take an unreadable state for an empty one and start over.
    const away = new PulsarClient({
      serviceUrl: "pulsar://127.0.0.1:9",
      operationTimeoutMs: 2000,
      connectionTimeoutMs: 2000,
    });
    const unreachable = new PulsarStateStore({
      pulsar: { client: away, adminUrl: "http://127.0.0.1:9" },
      tenant: "public",
      namespace: "default",
      name,
    });
    await expect(unreachable.get("position")).rejects.toThrow(/cannot read state topic/);
    await unreachable.close();
    await away.close();
  });
});
