import { createHmac } from "node:crypto";
import { request } from "node:http";
import { loadConfig, type SourceRecord } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { createSourceContext } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { freePort, postOnce } from "./webhook-client.ts";

const pulsar = pulsarEndpoints();
const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
afterAll(() => client.close());

/** Opens the source alone (no runtime) on a free port. */
async function openSource(configs: Record<string, unknown>) {
  const port = await freePort();
  const handle = createSourceContext({ name: "http-source-test" });
  const source = await definition.open(loadConfig(definition.config, { port, ...configs }), handle.context);
  const url = `http://127.0.0.1:${port}${(configs.path as string | undefined) ?? "/"}`;
  /** Reads what arrived, acking each record (the answer is then 204). */
  const drain = async (): Promise<SourceRecord[]> => {
    const records = (await source.read({ maxRecords: 100, signal: handle.abort.signal })) ?? [];
    for (const record of records) await record.ack?.();
    return records;
  };
  return { source, url, handle, drain };
}

/** POSTs while reading and acking on the source side, so the request can be answered. */
async function postAndDrain(opened: Awaited<ReturnType<typeof openSource>>, body: string, headers = {}) {
  const answer = postOnce(opened.url, body, headers);
  const records: SourceRecord[] = [];
  let status: number | undefined;
  void answer.then((s) => {
    status = s;
  });
  const deadline = Date.now() + 10_000;
  while (status === undefined && Date.now() < deadline) records.push(...(await opened.drain()));
  return { status: await answer, records };
}

/** A POST whose body goes in chunks (no Content-Length): the size limit must hold while it streams. */
function postChunked(url: string, chunks: string[]): Promise<number | string> {
  return new Promise((resolve) => {
    const outgoing = request(url, { method: "POST", agent: false });
    outgoing.once("error", () => resolve("connection closed"));
    outgoing.once("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    for (const chunk of chunks) outgoing.write(chunk);
    outgoing.end();
  });
}

const text = (record: SourceRecord | undefined) =>
  Buffer.from((record?.value as Uint8Array | string | undefined) ?? "").toString();

async function runSource(configs: Record<string, unknown>, topic: string) {
  const resolved = resolveSourceConfig({
    name: uniqueName("http-source"),
    archive: "builtin://http",
    topicName: topic,
    configs,
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client, adminUrl: pulsar.adminUrl },
  });
  await instance.start();
  return instance;
}

describe("HTTP source", () => {
  it("answers a POST 204 only after Pulsar stored its record, which carries the asked headers", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const topic = `persistent://public/default/${uniqueName("http-source")}`;
    const instance = await runSource(
      { port, path: "/in", bodyFormat: "json", headerProperties: ["X-Event"], keyHeader: "X-Key" },
      topic,
    );
    try {
      const status = await postOnce(`http://127.0.0.1:${port}/in`, '{"order": 12345678901234567890}', {
        "X-Event": "created",
        "X-Key": "order-1",
      });
      expect(status).toBe(204);
      // Right after the answer, the message is there to read.
      const consumer = await client.subscribe({
        topic,
        subscription: "check",
        subscriptionType: "Exclusive",
        subscriptionInitialPosition: "Earliest",
      });
      const message = await consumer.receive();
      await consumer.close();
      expect(Buffer.from(message.data).toString()).toBe('{"order": 12345678901234567890}');
      expect(message.key).toBe("order-1");
      expect(message.properties).toMatchObject({ "x-event": "created" });
    } finally {
      await instance.stop();
    }
  });

  it("answers 503, never 2xx, when the record cannot reach Pulsar", { timeout: 60_000 }, async () => {
    const port = await freePort();
    // A tenant that does not exist: no producer can be opened, so no receipt ever comes.
    const topic = `persistent://${uniqueName("no-tenant")}/default/t`;
    const instance = await runSource({ port, receiptTimeoutMs: 3_000 }, topic);
    try {
      expect(await postOnce(`http://127.0.0.1:${port}/`, "x").catch(() => "no answer")).toSatisfy(
        (status) => status === 503 || status === "no answer",
      );
    } finally {
      await instance.stop();
    }
  });

  it("refuses wrong paths, methods, oversized and malformed bodies with the matching status", async () => {
    const opened = await openSource({ path: "/hook", bodyFormat: "json", maxBodyBytes: 64 });
    try {
      expect(await postOnce(opened.url.replace("/hook", "/other"), "{}")).toBe(404);
      const get = await fetch(opened.url);
      expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
      expect(await postOnce(opened.url, JSON.stringify({ pad: "x".repeat(100) }))).toBe(413);
      expect(await postOnce(opened.url, "{not json")).toBe(400);
      expect(
        await postChunked(opened.url, ["{", `"pad": "${"x".repeat(40)}",`, `"more": "${"y".repeat(40)}"}`]),
      ).toSatisfy((status) => status === 413 || status === "connection closed");
      const ok = await postAndDrain(opened, '{"id": 1}');
      expect(ok.status).toBe(204);
      expect(ok.records.map(text)).toEqual(['{"id": 1}']);
    } finally {
      opened.handle.abort.abort();
      await opened.source.close();
    }
  });

  it("checks the HMAC signature of the body and the bearer token", async () => {
    const secret = "hmac-key";
    const opened = await openSource({
      signatureHeader: "X-Hub-Signature-256",
      signatureSecret: secret,
      bearerToken: "tok",
    });
    const body = '{"id": 2}';
    const signed = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    try {
      const bearer = { Authorization: "Bearer tok" };
      expect(await postOnce(opened.url, body, { ...bearer })).toBe(401);
      const wrongDigit = `${signed.slice(0, -1)}${signed.endsWith("0") ? "1" : "0"}`;
      expect(await postOnce(opened.url, body, { ...bearer, "X-Hub-Signature-256": wrongDigit })).toBe(401);
      expect(await postOnce(opened.url, `${body} `, { ...bearer, "X-Hub-Signature-256": signed })).toBe(401);
      expect(await postOnce(opened.url, body, { Authorization: "Bearer nope", "X-Hub-Signature-256": signed })).toBe(
        401,
      );
      expect(await opened.drain()).toEqual([]);
      const accepted = await postAndDrain(opened, body, {
        ...bearer,
        "X-Hub-Signature-256": signed.toUpperCase().replace("SHA256=", "sha256="),
      });
      expect(accepted.status).toBe(204);
      expect(accepted.records.map(text)).toEqual([body]);
    } finally {
      opened.handle.abort.abort();
      await opened.source.close();
    }
  });

  it("answers 503 to requests without a receipt when it stops, and to a failed send", async () => {
    const opened = await openSource({});
    const waiting = postOnce(opened.url, "a");
    const failing = postOnce(opened.url, "b");
    let records: SourceRecord[] = [];
    await expect
      .poll(async () => {
        records = records.concat(
          (await opened.source.read({ maxRecords: 10, signal: opened.handle.abort.signal })) ?? [],
        );
        return records.length;
      })
      .toBe(2);
    const byBody = new Map(records.map((record) => [text(record), record]));
    await byBody.get("b")?.fail?.(new Error("broker said no"));
    expect(await failing).toBe(503);
    opened.handle.abort.abort();
    await opened.source.close();
    expect(await waiting).toBe(503);
  });

  it("answers 503 with Retry-After beyond maxPendingRequests", async () => {
    const opened = await openSource({ maxPendingRequests: 1 });
    try {
      const first = postOnce(opened.url, "first");
      let records: SourceRecord[] = [];
      await expect
        .poll(async () => {
          records = records.concat(
            (await opened.source.read({ maxRecords: 10, signal: opened.handle.abort.signal })) ?? [],
          );
          return records.length;
        })
        .toBe(1);
      // The first one waits for its receipt: no room for another.
      const second = await fetch(opened.url, { method: "POST", body: "second" });
      expect([second.status, second.headers.get("retry-after")]).toEqual([503, "1"]);
      expect(text(records[0])).toBe("first");
      await records[0]?.ack?.();
      expect(await first).toBe(204);
    } finally {
      opened.handle.abort.abort();
      await opened.source.close();
    }
  });

  it("refuses EFFECTIVELY_ONCE and parallelism above 1 when it opens", async () => {
    for (const options of [{ processingGuarantee: "EFFECTIVELY_ONCE" as const }, { numInstances: 2 }]) {
      const handle = createSourceContext(options);
      const error = await definition
        .open(loadConfig(definition.config, { port: await freePort() }), handle.context)
        .catch((failure: unknown) => failure);
      expect(error).toMatchObject({ retryable: false });
      expect((error as Error).message).toMatch(/EFFECTIVELY_ONCE|parallelism 2/);
    }
  });
});
