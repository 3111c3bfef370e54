import { ConnectorError, parseConfig, REDACTED, redactConfig, sensitiveFields } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import Aerospike from "aerospike";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { toAerospikeRecord, toBinValue, toWriteError } from "./internal/sink.ts";

const base = { seedHosts: "127.0.0.1:3000", keyspace: "test", columnName: "v" };

describe("Aerospike sink config", () => {
  it("applies the upstream defaults", () => {
    const result = parseConfig(definition.config, base);
    expect(result.ok && result.value).toMatchObject({ maxConcurrentRequests: 100, timeoutMs: 100, retries: 1 });
  });

  it("gives the runtime its writes in flight from maxConcurrentRequests; retries stay the client's", () => {
    const result = parseConfig(definition.config, { ...base, maxConcurrentRequests: 9 });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(typeof definition.maxInFlight === "function" && definition.maxInFlight(result.value)).toBe(9);
    expect(definition.writeRetries).toBeUndefined();
  });

  it("requires the port in every seed host, like upstream", () => {
    const result = parseConfig(definition.config, { ...base, seedHosts: "a:3000,b" });
    expect(!result.ok && result.issues[0]?.path).toBe("configs.seedHosts");
  });

  it("reports field-level issues", () => {
    const result = parseConfig(definition.config, {
      seedHosts: "h:3000",
      keyspace: "",
      maxConcurrentRequests: 0,
      userName: "u",
    });
    expect(!result.ok && result.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(["configs.keyspace", "configs.maxConcurrentRequests"]),
    );
    const refined = parseConfig(definition.config, { seedHosts: "h:3000", keyspace: "ns", userName: "u" });
    expect(!refined.ok && refined.issues.map((issue) => issue.path)).toEqual([
      "configs.password",
      "configs.columnName",
    ]);
    const longBin = parseConfig(definition.config, { ...base, columnName: "a-very-long-bin-name" });
    expect(!longBin.ok && longBin.issues[0]?.path).toBe("configs.columnName");
  });

  it("redacts the password", () => {
    expect(sensitiveFields(definition.config)).toEqual(["password"]);
    expect(redactConfig(definition.config, { ...base, userName: "u", password: "hunter2" })).toMatchObject({
      userName: "u",
      password: REDACTED,
    });
  });
});

describe("Aerospike records", () => {
  it("string mode: key or value as the key, value text in the bin", () => {
    const [keyed, keyless] = makeSinkRecords([{ value: "hello", key: "k" }, { value: "solo" }]);
    expect(toAerospikeRecord(keyed!, { mode: "string", columnName: "v" })).toEqual({ key: "k", bins: { v: "hello" } });
    expect(toAerospikeRecord(keyless!, { mode: "string", columnName: "v" })).toEqual({
      key: "solo",
      bins: { v: "solo" },
    });
  });

  it("structured mode: fields as bins, key from the message or keyField", () => {
    const [record] = makeSinkRecords<unknown>([{ value: { id: 7, n: null, s: "x" } }]);
    expect(toAerospikeRecord(record!, { mode: "structured", keyField: "id" })).toEqual({
      key: "7",
      bins: { id: 7, s: "x" },
    });
    expect(() => toAerospikeRecord(record!, { mode: "structured" })).toThrow(ConnectorError);
    const [long] = makeSinkRecords<unknown>([{ value: { "sixteen-chars-xx": 1 }, key: "k" }]);
    expect(() => toAerospikeRecord(long!, { mode: "structured" })).toThrow(/15 bytes/);
  });

  it("keeps integers as integers and non-integers as doubles", () => {
    expect(toBinValue(3)).toBe(3);
    expect(toBinValue(2.5)).toBeInstanceOf(Aerospike.Double);
    expect(toBinValue([1, null, "a"])).toEqual([1, null, "a"]);
    expect(toBinValue({ a: { b: 1 }, c: undefined })).toEqual({ a: { b: 1 } });
    expect(toBinValue(new Uint8Array([1, 2]))).toEqual(Buffer.from([1, 2]));
  });

  it("classifies client errors: transient ones are retryable, record problems are not", () => {
    expect(toWriteError({ code: Aerospike.status.ERR_TIMEOUT, message: "t" })).toMatchObject({
      code: "WRITE_FAILED",
      retryable: true,
    });
    expect(toWriteError({ code: Aerospike.status.ERR_RECORD_TOO_BIG, message: "b" })).toMatchObject({
      code: "INVALID_RECORD",
      retryable: false,
    });
    expect(toWriteError({ code: Aerospike.status.ERR_NAMESPACE_NOT_FOUND, message: "n" })).toMatchObject({
      code: "WRITE_FAILED",
      retryable: false,
    });
  });
});
