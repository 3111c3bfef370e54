import { parseConfig, REDACTED, redactConfig, sensitiveFields } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { contactPoints } from "./internal/sink.ts";

const base = { roots: "127.0.0.1", keyspace: "ks", columnFamily: "t", keyname: "k", columnName: "v" };

describe("Cassandra sink config", () => {
  it("accepts the upstream fields and applies defaults", () => {
    const result = parseConfig(definition.config, base);
    expect(result.ok && result.value).toMatchObject({
      mode: "string",
      localDc: "datacenter1",
      consistencyLevel: "LOCAL_ONE",
      maxConcurrentRequests: 64,
      retries: 3,
    });
  });

  it("gives the runtime its writes in flight and its retries from maxConcurrentRequests, retries and retryBackoffMs", () => {
    const result = parseConfig(definition.config, {
      ...base,
      maxConcurrentRequests: 7,
      retries: 2,
      retryBackoffMs: 50,
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const { maxInFlight, writeRetries } = definition;
    expect(typeof maxInFlight === "function" && maxInFlight(result.value)).toBe(7);
    expect(typeof writeRetries === "function" && writeRetries(result.value)).toEqual({
      maxRetries: 2,
      initialBackoffMs: 50,
      maxBackoffMs: 5000,
    });
  });

  it("requires keyname and columnName in string mode only", () => {
    const string = parseConfig(definition.config, { roots: "h", keyspace: "ks", columnFamily: "t" });
    expect(!string.ok && string.issues.map((issue) => issue.path)).toEqual(["configs.keyname", "configs.columnName"]);
    expect(
      parseConfig(definition.config, { roots: "h", keyspace: "ks", columnFamily: "t", mode: "structured" }).ok,
    ).toBe(true);
  });

  it("reports field-level issues", () => {
    const result = parseConfig(definition.config, {
      roots: "",
      keyspace: "bad-name",
      columnFamily: "t",
      keyname: "k",
      columnName: "v",
      consistencyLevel: "MOST",
      maxConcurrentRequests: 0,
    });
    expect(!result.ok && result.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining([
        "configs.roots",
        "configs.keyspace",
        "configs.consistencyLevel",
        "configs.maxConcurrentRequests",
      ]),
    );
  });

  it("requires userName and password together", () => {
    const result = parseConfig(definition.config, { ...base, userName: "cassandra" });
    expect(!result.ok && result.issues).toEqual([
      { path: "configs.password", message: "userName and password must be set together" },
    ]);
    expect(parseConfig(definition.config, { ...base, userName: "", password: "" }).ok).toBe(true);
  });

  it("keeps the password sensitive: redacted, and resolvable from secrets", () => {
    expect(sensitiveFields(definition.config)).toEqual(["password"]);
    const shown = redactConfig(definition.config, { ...base, userName: "u", password: "hunter2" });
    expect(shown).toMatchObject({ userName: "u", password: REDACTED });
    const fromSecret = parseConfig(definition.config, { ...base, userName: "u" }, (name) =>
      name === "password" ? "s3cret" : undefined,
    );
    expect(fromSecret.ok && fromSecret.value.password).toBe("s3cret");
  });

  it("turns roots into contact points with the default port", () => {
    expect(contactPoints("a, b:9142,,c")).toEqual(["a:9042", "b:9142", "c:9042"]);
  });
});
