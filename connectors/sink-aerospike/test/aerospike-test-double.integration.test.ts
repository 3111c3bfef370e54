import { ConnectorError, loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import Aerospike from "aerospike";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { AerospikeTestDouble } from "./aerospike-test-double.ts";

// No Aerospike server can be obtained here: these tests drive the real `aerospike` client (native C client inside)
// against a wire-protocol test double. They prove the connector and the client agree, not that a server does.
const double = new AerospikeTestDouble({ namespace: "test" });
let port = 0;
let reader: Aerospike.Client;

beforeAll(async () => {
  port = await double.start();
  reader = await Aerospike.connect({ hosts: `127.0.0.1:${port}` });
});

afterAll(async () => {
  await reader?.close(false);
  await double.stop();
});

async function openSink(configs: Record<string, unknown>): Promise<SinkInstance> {
  const config = loadConfig(definition.config, { seedHosts: `127.0.0.1:${port}`, keyspace: "test", ...configs });
  return definition.open(config, createSinkContext().context);
}

describe("Aerospike sink through the real client against the Aerospike test double", () => {
  it("the client connects and tends the one-node cluster through the test double (info commands it knows)", async () => {
    const { requests, unknownInfo } = await double.seen();
    const infoNames = requests.filter((r) => r.type === "info").flatMap((r) => r.names);
    expect(infoNames).toEqual(expect.arrayContaining(["node", "partition-generation", "replicas"]));
    expect(unknownInfo).toEqual([]);
  });

  it("string mode (upstream): key -> record key, value text -> columnName bin, in keySet", async () => {
    const sink = await openSink({ columnName: "value", keySet: "strings" });
    try {
      const outcome = await sink.write(
        makeSinkRecords<unknown>([{ value: "hello", key: "a" }, { value: { n: 1 }, key: "b" }, { value: "keyless" }]),
      );
      expect(outcome).toBeUndefined();
    } finally {
      await sink.close();
    }
    const a = await reader.get(new Aerospike.Key("test", "strings", "a"));
    expect(a.bins).toEqual({ value: "hello" });
    const b = await reader.get(new Aerospike.Key("test", "strings", "b"));
    expect(b.bins).toEqual({ value: '{"n":1}' });
    const keyless = await reader.get(new Aerospike.Key("test", "strings", "keyless"));
    expect(keyless.bins).toEqual({ value: "keyless" });
    // The double stored the bytes it was sent under the client's digest of (set, key).
    const stored = await double.get("strings", "a");
    expect(stored?.set).toBe("strings");
    expect(Buffer.from(stored?.bins.value?.value ?? []).toString()).toBe("hello");
  });

  it("structured mode: fields -> bins of the matching types; a record without a key fails alone", async () => {
    const sink = await openSink({ mode: "structured", keySet: "events", keyField: "id" });
    try {
      const outcome = await sink.write(
        makeSinkRecords<unknown>([
          {
            value: { id: "e1", count: 42, ratio: 0.25, name: "first", tags: ["x", "y"], attrs: { a: 1, b: "two" } },
          },
          { value: { count: 1 } },
          { value: JSON.stringify({ id: "e2", big: 9007199254740991 }), key: "explicit-key" },
        ]),
      );
      expect(outcome?.failed.map((failure) => failure.index)).toEqual([1]);
      expect(outcome?.failed[0]?.error).toMatchObject({ code: "INVALID_RECORD", retryable: false });
    } finally {
      await sink.close();
    }
    const e1 = await reader.get(new Aerospike.Key("test", "events", "e1"));
    expect(e1.bins).toEqual({
      id: "e1",
      count: 42,
      ratio: 0.25,
      name: "first",
      tags: ["x", "y"],
      attrs: { a: 1, b: "two" },
    });
    const e2 = await reader.get(new Aerospike.Key("test", "events", "explicit-key"));
    expect(e2.bins).toEqual({ id: "e2", big: 9007199254740991 });
  });

  it("writes 2000 records with 8 writes of 16 in flight (maxConcurrentRequests 8, as the runtime runs them)", async () => {
    const before = await double.count();
    const sink = await openSink({ columnName: "v", keySet: "bulk", maxConcurrentRequests: 8, timeoutMs: 2000 });
    const total = 2000;
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < total) {
            const first = next;
            next += 16;
            const records = makeSinkRecords(
              Array.from({ length: Math.min(16, total - first) }, (_, i) => ({
                value: `v${first + i}`,
                key: `k${first + i}`,
              })),
            );
            expect(await sink.write(records)).toBeUndefined();
          }
        }),
      );
    } finally {
      await sink.close();
    }
    expect((await double.count()) - before).toBe(total);
    expect((await reader.get(new Aerospike.Key("test", "bulk", "k1999"))).bins).toEqual({ v: "v1999" });
  });

  it("a server timeout answer becomes a retryable WRITE_FAILED; record too big is not retryable", async () => {
    const sink = await openSink({ columnName: "v", keySet: "errors", retries: 0 });
    try {
      await double.failWrites(Aerospike.status.ERR_TIMEOUT);
      const timeout = await sink.write(makeSinkRecords([{ value: "x", key: "t" }])).catch((e: unknown) => e);
      expect(timeout).toBeInstanceOf(ConnectorError);
      expect(timeout).toMatchObject({ code: "WRITE_FAILED", retryable: true });
      await double.failWrites(Aerospike.status.ERR_RECORD_TOO_BIG);
      const tooBig = await sink.write(makeSinkRecords([{ value: "x", key: "t" }])).catch((e: unknown) => e);
      expect(tooBig).toMatchObject({ code: "INVALID_RECORD", retryable: false });
    } finally {
      await double.failWrites(undefined);
      await sink.close();
    }
  });

  it("fails open with a retryable CONNECTION_FAILED when no seed answers", async () => {
    const config = loadConfig(definition.config, { seedHosts: "127.0.0.1:1", keyspace: "test", columnName: "v" });
    const error = await definition.open(config, createSinkContext().context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
  });
});
