// Concurrent writes and write retries owned by the runtime, against the real broker: a sink's maxInFlight bounds the
// write() calls in flight, acks under ATLEAST_ONCE follow each batch's own write when writes finish out of order,
// the guarantees that need order write one batch at a time, and retryable failures are retried with the runtime's
// backoff up to the retry setting, after which the instance fails (the records stay unacknowledged, never refused).
import {
  ConnectorError,
  defineSink,
  type LogFields,
  type Logger,
  type PulsarPosition,
  type SinkRecord,
  type WriteOutcome,
  type WriteRetries,
  z,
} from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createInstance, resolveSinkConfig } from "../src/index.ts";
import { pulsarAdmin, uniqueNames, waitFor } from "./helpers.ts";

const services = inject("services");
const SERVICE_URL = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const admin = pulsarAdmin(ADMIN_URL);
const unique = uniqueNames();
let client: PulsarClient;

beforeAll(() => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL });
});
afterAll(async () => {
  await client.close();
});

const statsPath = (topic: string) => `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`;

async function backlog(topic: string, subscription: string): Promise<number | undefined> {
  const stats = (await admin("GET", statsPath(topic)).catch(() => undefined)) as
    | { subscriptions: Record<string, { msgBacklog: number }> }
    | undefined;
  return stats?.subscriptions[subscription]?.msgBacklog;
}

async function published(topic: string): Promise<number> {
  const stats = (await admin("GET", statsPath(topic)).catch(() => undefined)) as { msgInCounter?: number } | undefined;
  return stats?.msgInCounter ?? 0;
}

/** Publishes `{ id }` for ids 0..count-1, one message per entry (so the batch size bounds each write). */
async function produce(topic: string, count: number): Promise<void> {
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  await Promise.all(
    Array.from({ length: count }, (_, id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })),
  );
  await producer.close();
}

/** A logger that keeps the warnings. */
function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const make = (): Logger => ({
    debug: () => {},
    info: () => {},
    warn: (fields: LogFields | string, message?: string) => {
      warnings.push(typeof fields === "string" ? fields : `${message ?? ""} ${JSON.stringify(fields)}`);
    },
    error: () => {},
    child: () => make(),
  });
  return { logger: make(), warnings };
}

/** Publishes `{ id }` for ids 0..count-1 under one key, one message per entry. */
async function produceKeyed(topic: string, count: number, key: string): Promise<void> {
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  for (let id = 0; id < count; id += 1) await producer.send({ key, value: Buffer.from(JSON.stringify({ id })) });
  await producer.close();
}

/** Resolves with the instance's failure, or with "still running" when it has not failed within `ms`. */
async function failureWithin(done: Promise<void>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("still running"), ms);
  });
  try {
    return await Promise.race([
      done.then(
        () => "stopped without failing",
        (error: unknown) => (error as Error).message,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A test's write: resolves with nothing, or with per-record failures. */
type Write = (records: Array<SinkRecord<{ id: number }>>) => Promise<unknown>;

const sinkConfig = z.object({ writers: z.number().int().positive().default(1) });

/**
 * A sink whose writes run the test's function; its maxInFlight comes from `configs.writers`. With `positions` it
 * stores the last position of each topic with every write that resolves (as JDBC sinks do), under every guarantee.
 */
function scriptedSink(
  write: Write,
  declared: { writeRetries?: WriteRetries } = {},
  positions?: Map<string, PulsarPosition>,
) {
  return defineSink({
    name: "scripted",
    description: "writes through the test's function",
    config: sinkConfig,
    maxInFlight: (config) => config.writers,
    ...declared,
    ...(positions ? { storesPositions: true } : {}),
    async open() {
      return {
        write: async (records: SinkRecord[]) => {
          const outcome = (await write(records as Array<SinkRecord<{ id: number }>>)) as WriteOutcome | undefined;
          const failed = new Set(outcome?.failed.map((failure) => failure.index));
          for (const [index, record] of records.entries()) {
            if (!failed.has(index)) positions?.set(record.position.topic, record.position);
          }
          return outcome;
        },
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
  options: { logger?: Logger; writeRetries?: WriteRetries; batchSize?: number } = {},
) {
  const resolved = resolveSinkConfig({
    name: unique("sink"),
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
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
    batchSize: options.batchSize ?? 10,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.writeRetries ? { writeRetries: options.writeRetries } : {}),
  });
  return { instance, config: resolved.value };
}

/** A write that holds each call until `target` calls are in flight (or 2 s passed), recording the peak. */
function concurrencyProbe(target: number) {
  const seen = { active: 0, peak: 0, written: new Set<number>() };
  let release: () => void = () => {};
  let reached = new Promise<void>((resolve) => {
    release = resolve;
  });
  const write: Write = async (records) => {
    seen.active += 1;
    seen.peak = Math.max(seen.peak, seen.active);
    if (seen.active >= target) {
      release();
      reached = new Promise<void>((resolve) => {
        release = resolve;
      });
    } else {
      await Promise.race([reached, new Promise((resolve) => setTimeout(resolve, 2000))]);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const record of records) seen.written.add(record.value.id);
    seen.active -= 1;
  };
  return { seen, write };
}

describe("maxInFlight", () => {
  it.each(["ATLEAST_ONCE", "ATMOST_ONCE"])(
    "runs as many writes at once as the sink's config asks for, and never more (%s)",
    async (guarantee) => {
      const topic = `persistent://public/default/${unique("inflight")}`;
      const { seen, write } = concurrencyProbe(3);
      const { instance, config } = sinkInstance(topic, scriptedSink(write), {
        configs: { writers: 3 },
        processingGuarantees: guarantee,
      });
      await produce(topic, 300);
      await instance.start();
      await waitFor(() => seen.written.size === 300, "all 300 records written", 60_000);
      await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "every record acked");
      await instance.stop();
      expect(seen.peak).toBe(3);
    },
  );

  it.each([
    ["EFFECTIVELY_ONCE", { processingGuarantees: "EFFECTIVELY_ONCE" }, /EFFECTIVELY_ONCE/],
    ["retainOrdering", { retainOrdering: true }, /retainOrdering/],
    ["retainKeyOrdering", { retainKeyOrdering: true }, /retainKeyOrdering/],
  ])("%s writes one batch at a time whatever the sink declares, and says why", async (_label, extra, reason) => {
    const topic = `persistent://public/default/${unique("serial")}`;
    const { seen, write } = concurrencyProbe(3);
    const { logger, warnings } = warningsLogger();
    const { instance, config } = sinkInstance(
      topic,
      scriptedSink(write),
      { configs: { writers: 3 }, ...extra },
      { logger },
    );
    await produce(topic, 60);
    await instance.start();
    await waitFor(() => seen.written.size === 60, "all 60 records written", 60_000);
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "every record acked");
    await instance.stop();
    expect(seen.peak).toBe(1);
    expect(warnings.some((warning) => reason.test(warning) && /one batch at a time/.test(warning))).toBe(true);
  });

  it("refuses to start when the sink derives a maxInFlight that is not a positive whole number", async () => {
    const topic = `persistent://public/default/${unique("badinflight")}`;
    const definition = defineSink({
      name: "scripted",
      description: "declares a bad maxInFlight",
      config: z.object({}),
      maxInFlight: () => 0,
      async open() {
        return { async write() {}, async close() {} };
      },
    });
    const { instance } = sinkInstance(topic, definition as unknown as ReturnType<typeof scriptedSink>);
    await expect(instance.start()).rejects.toThrow(/maxInFlight/);
  });
});

describe("ATLEAST_ONCE acknowledgement with writes finishing out of order", () => {
  it("acks each batch once its own write resolved: a held first batch stays unacked while later ones are acked", async () => {
    const topic = `persistent://public/default/${unique("outoforder")}`;
    const written = new Set<number>();
    let firstBatch: number[] = [];
    let releaseFirst: () => void = () => {};
    const firstHeld = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let calls = 0;
    const definition = scriptedSink(async (records) => {
      calls += 1;
      if (calls === 1) {
        firstBatch = records.map((record) => record.value.id);
        await firstHeld;
      }
      for (const record of records) written.add(record.value.id);
    });
    const { instance, config } = sinkInstance(topic, definition, { configs: { writers: 2 } });
    const subscription = config.sourceSubscriptionName;
    await produce(topic, 100);
    await instance.start();
    await waitFor(() => written.size === 100 - firstBatch.length && firstBatch.length > 0, "every later batch");
    // The later batches' acks land; the first batch's messages stay in the backlog however long we wait.
    await waitFor(async () => (await backlog(topic, subscription)) === firstBatch.length, "the later batches acked");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await backlog(topic, subscription)).toBe(firstBatch.length);
    expect(firstBatch.every((id) => !written.has(id))).toBe(true);
    releaseFirst();
    await waitFor(async () => (await backlog(topic, subscription)) === 0, "the first batch acked after its write");
    expect(written.size).toBe(100);
    await instance.stop();
  });
});

describe("write retries", () => {
  it("retries a retryable failure with the runtime's backoff, then succeeds", async () => {
    const topic = `persistent://public/default/${unique("retry")}`;
    const calls: number[] = [];
    const written: number[] = [];
    const definition = scriptedSink(
      async (records) => {
        calls.push(performance.now());
        if (calls.length <= 2) throw new ConnectorError("CONNECTION_FAILED", "target unreachable");
        written.push(...records.map((record) => record.value.id));
      },
      { writeRetries: { maxRetries: 5, initialBackoffMs: 300 } },
    );
    const { instance, config } = sinkInstance(topic, definition);
    await produce(topic, 1);
    await instance.start();
    await waitFor(() => written.length === 1, "the record written on the third attempt");
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "the record acked");
    await instance.stop();
    expect(calls).toHaveLength(3);
    const [first, second, third] = calls as [number, number, number];
    // 300 ms then 600 ms, each with at most 10 % jitter below.
    expect(second - first).toBeGreaterThanOrEqual(265);
    expect(third - second).toBeGreaterThanOrEqual(535);
    expect(instance.stats.connectorExceptions).toBe(2);
  });

  it.each([
    ["ATLEAST_ONCE", 1],
    ["EFFECTIVELY_ONCE", 1],
    ["ATLEAST_ONCE", 0],
  ])(
    "after the sink's retries the instance fails with the reason; nothing is dead-lettered or acked (%s, maxMessageRetries %d)",
    async (guarantee, maxMessageRetries) => {
      const topic = `persistent://public/default/${unique("exhaust")}`;
      let calls = 0;
      const definition = scriptedSink(
        async () => {
          calls += 1;
          throw new ConnectorError("CONNECTION_FAILED", "target unreachable");
        },
        { writeRetries: { maxRetries: 2, initialBackoffMs: 20 } },
      );
      const dlq = `persistent://public/default/${unique("exhaust-dlq")}`;
      const { instance, config } = sinkInstance(topic, definition, {
        processingGuarantees: guarantee,
        maxMessageRetries,
        ...(maxMessageRetries > 0 ? { deadLetterTopic: dlq } : {}),
      });
      await produce(topic, 1);
      await instance.start();
      expect(await failureWithin(instance.done, 20_000)).toMatch(/gave up after 2 retries: target unreachable/);
      // One write and two retries; the record was neither redelivered nor passed over.
      expect(calls).toBe(3);
      expect(await published(dlq)).toBe(0);
      expect(await backlog(topic, config.sourceSubscriptionName)).toBe(1);
    },
  );

  it("a record the sink keeps reporting as retryable fails the instance after the retries; the others are written and acked", async () => {
    const topic = `persistent://public/default/${unique("recordexhaust")}`;
    const written = new Set<number>();
    let refusals = 0;
    const definition = scriptedSink(
      async (records) => {
        const failed: Array<{ index: number; error: Error }> = [];
        for (const [index, record] of records.entries()) {
          if (record.value.id === 3) {
            refusals += 1;
            failed.push({ index, error: new ConnectorError("WRITE_FAILED", "hot partition", { retryable: true }) });
          } else written.add(record.value.id);
        }
        return { failed };
      },
      { writeRetries: { maxRetries: 1, initialBackoffMs: 20 } },
    );
    const dlq = `persistent://public/default/${unique("recordexhaust-dlq")}`;
    const { instance, config } = sinkInstance(topic, definition, { maxMessageRetries: 1, deadLetterTopic: dlq });
    await produce(topic, 6);
    await instance.start();
    expect(await failureWithin(instance.done, 20_000)).toMatch(/gave up after 1 retry: hot partition/);
    expect([...written].sort()).toEqual([0, 1, 2, 4, 5]);
    // Once with the batch, again at once after the others went through, then one retry after the backoff.
    expect(refusals).toBe(3);
    expect(await published(dlq)).toBe(0);
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 1, "all but record 3 acked");
  });

  it("MANUAL: after the retries the instance fails instead of leaving the records unsettled", async () => {
    const topic = `persistent://public/default/${unique("manualexhaust")}`;
    let calls = 0;
    const definition = scriptedSink(
      async () => {
        calls += 1;
        throw new ConnectorError("CONNECTION_FAILED", "target unreachable");
      },
      { writeRetries: { maxRetries: 0 } },
    );
    const { instance, config } = sinkInstance(topic, definition, {
      processingGuarantees: "MANUAL",
      configs: { writers: 2 },
    });
    await produce(topic, 3);
    await instance.start();
    expect(await failureWithin(instance.done, 20_000)).toMatch(/gave up after 0 retries: target unreachable/);
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(await backlog(topic, config.sourceSubscriptionName)).toBe(3);
  });

  it("takes the runtime's retry setting when the sink declares none; exhausted under EFFECTIVELY_ONCE, the instance fails", async () => {
    const topic = `persistent://public/default/${unique("hostretries")}`;
    let calls = 0;
    const definition = scriptedSink(async () => {
      calls += 1;
      throw new ConnectorError("CONNECTION_FAILED", "target unreachable");
    });
    const { instance, config } = sinkInstance(
      topic,
      definition,
      { processingGuarantees: "EFFECTIVELY_ONCE" },
      { writeRetries: { maxRetries: 1, initialBackoffMs: 20 } },
    );
    await produce(topic, 3);
    await instance.start();
    await expect(instance.done).rejects.toThrow(/gave up after 1 retry: target unreachable/);
    expect(calls).toBe(2);
    expect(await backlog(topic, config.sourceSubscriptionName)).toBe(3);
  });
});

describe("sinks that store positions with their writes", () => {
  it("write one batch at a time under ATLEAST_ONCE whatever they declare, and say why", async () => {
    const topic = `persistent://public/default/${unique("storing")}`;
    const { seen, write } = concurrencyProbe(3);
    const { logger, warnings } = warningsLogger();
    const { instance, config } = sinkInstance(
      topic,
      scriptedSink(write, {}, new Map()),
      { configs: { writers: 3 } },
      { logger },
    );
    await produce(topic, 60);
    await instance.start();
    await waitFor(() => seen.written.size === 60, "all 60 records written", 60_000);
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "every record acked");
    await instance.stop();
    expect(seen.peak).toBe(1);
    expect(warnings.some((w) => /stores its position/.test(w) && /one batch at a time/.test(w))).toBe(true);
  });

  it("a batch given up under ATLEAST_ONCE is not passed over: an EFFECTIVELY_ONCE restart still writes it", async () => {
    const topic = `persistent://public/default/${unique("givenup")}`;
    const positions = new Map<string, PulsarPosition>();
    const written = new Set<number>();
    // First run: the batch holding ids 0-9 meets an outage that outlasts the retries; later batches would go through.
    const first = sinkInstance(
      topic,
      scriptedSink(
        async (records) => {
          if (records.some((record) => record.value.id < 10)) {
            throw new ConnectorError("CONNECTION_FAILED", "target unreachable");
          }
          for (const record of records) written.add(record.value.id);
        },
        { writeRetries: { maxRetries: 0 } },
        positions,
      ),
    );
    await produce(topic, 30);
    let failure: string | undefined;
    first.instance.done.catch((error: Error) => {
      failure = error.message;
    });
    await first.instance.start();
    await waitFor(() => failure !== undefined || written.size === 20, "the first run failed or wrote the rest");
    await first.instance.stop();
    const second = sinkInstance(
      topic,
      scriptedSink(
        async (records) => {
          for (const record of records) written.add(record.value.id);
        },
        {},
        positions,
      ),
      { processingGuarantees: "EFFECTIVELY_ONCE", sourceSubscriptionName: first.config.sourceSubscriptionName },
    );
    await second.instance.start();
    await waitFor(
      async () => (await backlog(topic, first.config.sourceSubscriptionName)) === 0,
      "the restart drained the topic",
    );
    await second.instance.stop();
    expect(Array.from({ length: 30 }, (_, id) => id).filter((id) => !written.has(id))).toEqual([]);
    expect(failure).toMatch(/gave up after 0 retries: target unreachable/);
  });
});

describe("retainKeyOrdering with bounded retries", () => {
  it("keeps the key's order when a write runs out of retries: the instance fails and the restart writes in order", async () => {
    const topic = `persistent://public/default/${unique("keyorder")}`;
    const order: number[] = [];
    let calls = 0;
    const definition = scriptedSink(
      async (records) => {
        calls += 1;
        if (calls <= 2) throw new ConnectorError("CONNECTION_FAILED", "target unreachable");
        order.push(...records.map((record) => record.value.id));
      },
      { writeRetries: { maxRetries: 1, initialBackoffMs: 20 } },
    );
    const extra = { retainKeyOrdering: true, configs: { writers: 3 } };
    await produceKeyed(topic, 5, "K");
    const first = sinkInstance(topic, definition, extra, { batchSize: 1 });
    let failure: string | undefined;
    first.instance.done.catch((error: Error) => {
      failure = error.message;
    });
    await first.instance.start();
    await waitFor(() => failure !== undefined || order.length === 5, "the first run failed or wrote everything");
    await first.instance.stop();
    const second = sinkInstance(
      topic,
      definition,
      { ...extra, sourceSubscriptionName: first.config.sourceSubscriptionName },
      { batchSize: 1 },
    );
    await second.instance.start();
    await waitFor(
      async () => (await backlog(topic, first.config.sourceSubscriptionName)) === 0,
      "the restart drained the topic",
    );
    await second.instance.stop();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(failure).toMatch(/gave up after 1 retry/);
  });
});

describe("MANUAL with writes in flight", () => {
  it("runs the sink's maxInFlight writes at once; the connector acks each record after its own write", async () => {
    const topic = `persistent://public/default/${unique("manual")}`;
    const { seen, write } = concurrencyProbe(3);
    const definition = scriptedSink(async (records) => {
      await write(records);
      for (const record of records) record.ack?.();
    });
    const { instance, config } = sinkInstance(topic, definition, {
      processingGuarantees: "MANUAL",
      configs: { writers: 3 },
    });
    await produce(topic, 120);
    await instance.start();
    await waitFor(() => seen.written.size === 120, "all 120 records written", 60_000);
    await waitFor(async () => (await backlog(topic, config.sourceSubscriptionName)) === 0, "every record acked");
    await instance.stop();
    expect(seen.peak).toBe(3);
  });
});

describe("stop with writes in flight", () => {
  it("waits for every write in flight and acks only what they wrote", async () => {
    const topic = `persistent://public/default/${unique("stopheld")}`;
    const written = new Set<number>();
    let calls = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const definition = scriptedSink(async (records) => {
      calls += 1;
      await released;
      for (const record of records) written.add(record.value.id);
    });
    const { instance, config } = sinkInstance(topic, definition, { configs: { writers: 3 } });
    await produce(topic, 100);
    await instance.start();
    await waitFor(() => calls === 3, "three writes held");
    let stopped = false;
    const stopping = instance.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stopped, "the stop waits for the writes in flight").toBe(false);
    release();
    await stopping;
    expect(calls).toBe(3);
    expect(written.size).toBeGreaterThan(0);
    await waitFor(
      async () => (await backlog(topic, config.sourceSubscriptionName)) === 100 - written.size,
      "exactly the held writes acked",
    );
  });
});
