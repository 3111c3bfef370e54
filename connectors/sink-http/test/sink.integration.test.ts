import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { createSinkContext, MemoryLogger, makeSinkRecords } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { Receiver } from "./receiver.ts";

const receiver = await Receiver.start();
const pulsar = pulsarEndpoints();
const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
afterAll(async () => {
  await client.close();
  await receiver.close();
});

async function openSink(configs: Record<string, unknown>) {
  const handle = createSinkContext({ name: "http-sink-test" });
  return definition.open(loadConfig(definition.config, configs), handle.context);
}

async function produce(topic: string, ids: number[]): Promise<void> {
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  await Promise.all(ids.map((id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })));
  await producer.close();
}

/** Runs the sink through the runtime on a fresh topic holding records 0..count-1. */
async function runSink(
  configs: Record<string, unknown>,
  count: number,
  extra: { secrets?: Record<string, unknown>; deadLetterTopic?: string; logger?: MemoryLogger } = {},
) {
  const topic = `persistent://public/default/${uniqueName("http-sink")}`;
  await produce(
    topic,
    Array.from({ length: count }, (_, id) => id),
  );
  const resolved = resolveSinkConfig({
    name: uniqueName("http-sink"),
    archive: "builtin://http",
    inputs: [topic],
    sourceSubscriptionPosition: "Earliest",
    configs,
    secrets: extra.secrets ?? {},
    negativeAckRedeliveryDelayMs: 200,
    ...(extra.deadLetterTopic ? { deadLetterTopic: extra.deadLetterTopic, maxMessageRetries: 1 } : {}),
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "sink",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client, adminUrl: pulsar.adminUrl },
    ...(extra.logger ? { logger: extra.logger } : {}),
  });
  await instance.start();
  return instance;
}

const idsAt = (path: string) =>
  receiver.accepted(path).flatMap((request) => {
    const body = JSON.parse(request.body.toString()) as { id: number } | Array<{ id: number }>;
    return Array.isArray(body) ? body.map((value) => value.id) : [body.id];
  });

describe("HTTP sink against a real HTTP server", () => {
  it("POSTs each record as upstream does: the value as JSON, metadata in Pulsar* headers, configured headers", async () => {
    const path = `/${uniqueName("per-record")}`;
    const sink = await openSink({
      url: `${receiver.url}${path}`,
      headers: { "X-Team": "data", "content-type": "application/vnd.orders+json" },
      secretHeaders: JSON.stringify({ Authorization: "Bearer t0ken" }),
    });
    const records = makeSinkRecords<unknown>([
      { value: { id: 1 }, key: "k1", properties: { origin: "test" }, eventTime: 1_700_000_000_000 },
      { value: "plain text" },
      { value: new Uint8Array([1, 2, 255]) },
    ]);
    expect(await sink.write(records)).toBeUndefined();
    await sink.close();
    const got = receiver.accepted(path);
    expect(got.map((request) => request.body.toString())).toEqual(['{"id":1}', '"plain text"', '"AQL/"']);
    expect(got[0]?.headers).toMatchObject({
      "content-type": "application/vnd.orders+json",
      "x-team": "data",
      authorization: "Bearer t0ken",
      pulsartopic: records[0]?.topicName,
      pulsarkey: "k1",
      pulsareventtime: "1700000000000",
      pulsarmessageid: records[0]?.messageId,
      pulsarpublishtime: String(records[0]?.publishTime),
      "pulsarproperties-origin": "test",
    });
    expect(got[1]?.headers.pulsarkey).toBeUndefined();
  });

  it("sends JSON-array batches within batchMaxRecords and batchMaxBytes", async () => {
    const path = `/${uniqueName("arrays")}`;
    const sink = await openSink({
      url: `${receiver.url}${path}`,
      requestMode: "jsonArray",
      batchMaxRecords: 3,
      batchMaxBytes: 30,
    });
    // {"id":N} is 8 bytes: three fit in 30 bytes ([a,b,c] = 2 + 24 + 2), a fourth would not.
    expect(
      await sink.write(makeSinkRecords(Array.from({ length: 7 }, (_, id) => ({ value: { id } })))),
    ).toBeUndefined();
    await sink.write(makeSinkRecords([{ value: { id: 7, pad: "x".repeat(40) } }, { value: { id: 8 } }]));
    await sink.close();
    expect(receiver.accepted(path).map((request) => JSON.parse(request.body.toString()))).toEqual([
      [{ id: 0 }, { id: 1 }, { id: 2 }],
      [{ id: 3 }, { id: 4 }, { id: 5 }],
      [{ id: 6 }],
      [{ id: 7, pad: "x".repeat(40) }],
      [{ id: 8 }],
    ]);
  });

  it("isolates the record a JSON-array batch was refused for, and writes the rest", async () => {
    const path = `/${uniqueName("array-poison")}`;
    receiver.answer(path, (request) => ({ status: request.body.toString().includes('"id":4') ? 422 : 200 }));
    const sink = await openSink({ url: `${receiver.url}${path}`, requestMode: "jsonArray", batchMaxRecords: 3 });
    const outcome = await sink.write(makeSinkRecords(Array.from({ length: 7 }, (_, id) => ({ value: { id } }))));
    await sink.close();
    expect(
      outcome?.failed.map((f) => [f.index, (f.error as ConnectorError).code, (f.error as ConnectorError).retryable]),
    ).toEqual([[4, "INVALID_RECORD", false]]);
    expect(idsAt(path).sort()).toEqual([0, 1, 2, 3, 5, 6]);
  });

  it("fails the whole write with a retryable error while the server is unreachable, and stops on 401", async () => {
    const gone = await Receiver.start();
    const url = `${gone.url}/x`;
    await gone.close();
    const sink = await openSink({ url, requestTimeoutMs: 5_000 });
    const down = await sink.write(makeSinkRecords([{ value: 1 }, { value: 2 }])).catch((error: unknown) => error);
    await sink.close();
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    expect((down as Error).message).toContain(url);

    const path = `/${uniqueName("unauthorized")}`;
    receiver.answer(path, () => ({ status: 401 }));
    const refused = await openSink({ url: `${receiver.url}${path}` });
    const auth = await refused.write(makeSinkRecords([{ value: 1 }])).catch((error: unknown) => error);
    await refused.close();
    expect(auth).toBeInstanceOf(ConnectorError);
    expect(auth).toMatchObject({ code: "AUTH_FAILED" });
  });

  it("retries 429 after its Retry-After and 503 with backoff, then delivers every record in order", {
    timeout: 120_000,
  }, async () => {
    const path = `/${uniqueName("retry")}`;
    receiver.answer(path, (_request, nth) =>
      nth === 3 ? { status: 429, headers: { "Retry-After": "2" } } : nth === 4 ? { status: 503 } : { status: 200 },
    );
    const instance = await runSink({ url: `${receiver.url}${path}` }, 20);
    await expect.poll(() => new Set(idsAt(path)).size, { timeout: 60_000, interval: 200 }).toBe(20);
    await instance.stop();
    const all = receiver.requests.filter((request) => request.path === path);
    expect(all.map((request) => request.status).slice(0, 6)).toEqual([200, 200, 200, 429, 503, 200]);
    expect(idsAt(path)).toEqual(Array.from({ length: 20 }, (_, id) => id));
    // Retry-After: 2 is a lower bound for the next request, whatever the runtime's own backoff.
    expect((all[4]?.at ?? 0) - (all[3]?.at ?? 0)).toBeGreaterThanOrEqual(1_900);
  });

  it("sends a record the server refuses with 400 to the dead-letter topic while the others flow", {
    timeout: 120_000,
  }, async () => {
    const path = `/${uniqueName("poison")}`;
    receiver.answer(path, (request) => ({ status: request.body.toString() === '{"id":5}' ? 400 : 200 }));
    const deadLetterTopic = `persistent://public/default/${uniqueName("http-dlq")}`;
    const dlq = await client.subscribe({
      topic: deadLetterTopic,
      subscription: "check",
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
    });
    const instance = await runSink({ url: `${receiver.url}${path}` }, 12, { deadLetterTopic });
    const dead = await dlq.receive();
    await expect.poll(() => new Set(idsAt(path)).size, { timeout: 60_000, interval: 200 }).toBe(11);
    await instance.stop();
    await dlq.close();
    expect(JSON.parse(Buffer.from(dead.data).toString())).toEqual({ id: 5 });
    expect(idsAt(path).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    expect(JSON.stringify(instance.status())).toContain("answered 400");
  });

  it("never shows a secret header value in logs or status, even when the server echoes it back", {
    timeout: 120_000,
  }, async () => {
    const secret = `Bearer ${uniqueName("s3cret")}`;
    const path = `/${uniqueName("secret")}`;
    const seen: string[] = [];
    receiver.answer(path, (request, nth) => {
      seen.push(String(request.headers.authorization));
      // Some servers echo what they got: the secret comes back in the body of the failure.
      return nth < 2 ? { status: 503, body: `busy; you sent ${request.headers.authorization}` } : { status: 200 };
    });
    const logger = new MemoryLogger();
    const instance = await runSink({ url: `${receiver.url}${path}` }, 3, {
      secrets: { secretHeaders: JSON.stringify({ Authorization: secret }) },
      logger,
    });
    await expect.poll(() => new Set(idsAt(path)).size, { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(2);
    const status = JSON.stringify(instance.status());
    await instance.stop();
    expect(seen.every((value) => value === secret)).toBe(true);
    expect(status).toContain("503");
    expect(logger.text()).toContain("503");
    expect(status).not.toContain(secret.slice(7));
    expect(logger.text()).not.toContain(secret.slice(7));
  });
});
