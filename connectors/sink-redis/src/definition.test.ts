import { compatWarnings, loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { redisKey } from "./internal/sink.ts";

describe("redis sink config", () => {
  it("takes the upstream fields and defaults", () => {
    expect(loadConfig(definition.config, { redisHosts: "127.0.0.1:6379" })).toMatchObject({
      redisDatabase: 0,
      clientMode: "Standalone",
      autoReconnect: true,
      tcpNoDelay: false,
      keepAlive: false,
      connectTimeout: 10_000,
      operationTimeout: 10_000,
      batchSize: 200,
      mode: "keyValue",
      missingKey: "empty",
    });
  });

  it("names each bad field, refuses Cluster and unknown fields", () => {
    const result = parseConfig(definition.config, {
      redisHosts: "a:1,b:2",
      clientMode: "Cluster",
      batchSize: 0,
      mode: "hash",
      redisHost: "typo",
    });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual([
      "configs",
      "configs.batchSize",
      "configs.clientMode",
      "configs.hashName",
      "configs.redisHosts",
    ]);
  });

  it("warns about upstream fields that have no effect here", () => {
    const raw = { redisHosts: "h:1", batchTimeMs: 1000, requestQueue: 10 };
    expect(
      compatWarnings(definition.config, raw)
        .map((warning) => warning.field)
        .sort(),
    ).toEqual(["configs.batchTimeMs", "configs.requestQueue"]);
  });

  it("redacts the password", () => {
    const config = loadConfig(definition.config, { redisHosts: "h:1", redisPassword: "p" });
    expect(redactConfig(definition.config, config)).toMatchObject({ redisPassword: REDACTED });
  });

  it("keys keyless records as upstream (empty), by message id, or not at all", () => {
    const [record] = makeSinkRecords([{ value: "v" }]);
    if (!record) throw new Error("no record");
    expect(redisKey(record, { keyPrefix: "p:", missingKey: "empty" })).toBe("p:");
    expect(redisKey(record, { keyPrefix: "", missingKey: "messageId" })).toBe(record.messageId);
    expect(redisKey(record, { keyPrefix: "", missingKey: "refuse" })).toBeUndefined();
  });
});
