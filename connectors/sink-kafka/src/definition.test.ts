import { parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { messageSize, planRequests, toKafkaMessage } from "./internal/sink.ts";

const base = { bootstrapServers: "127.0.0.1:9092", topic: "t" };

describe("Kafka sink config", () => {
  it("applies the upstream defaults", () => {
    const result = parseConfig(definition.config, base);
    expect(result.ok && result.value).toMatchObject({
      acks: "all",
      batchSize: 16384,
      maxRequestSize: 1048576,
      copyHeadersEnabled: false,
      enableIdempotence: false,
    });
  });

  it("normalises acks: -1 and all are the same, numbers accepted", () => {
    for (const [raw, expected] of [
      ["-1", "all"],
      [-1, "all"],
      [1, "1"],
      ["0", "0"],
    ] as const) {
      const result = parseConfig(definition.config, { ...base, acks: raw });
      expect(result.ok && result.value.acks).toBe(expected);
    }
  });

  it("refuses acks other than all with an idempotent producer (field or enable.idempotence)", () => {
    for (const extra of [
      { enableIdempotence: true, acks: "1" },
      { producerConfigProperties: { "enable.idempotence": "true" }, acks: 0 },
    ]) {
      const result = parseConfig(definition.config, { ...base, ...extra });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.map((issue) => issue.path)).toContain("configs.acks");
    }
  });

  it("reports field-level issues", () => {
    const result = parseConfig(definition.config, {
      topic: "",
      acks: "2",
      batchSize: -1,
      producerConfigProperties: { "transactional.id": "x", "compression.type": "zstd" },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(["configs.bootstrapServers", "configs.topic", "configs.acks", "configs.batchSize"]),
    );
    const refined = parseConfig(definition.config, {
      ...base,
      producerConfigProperties: { "transactional.id": "x", "compression.type": "zstd" },
    });
    expect(!refined.ok && refined.issues.map((issue) => issue.path)).toEqual([
      "configs.producerConfigProperties.transactional.id",
      "configs.producerConfigProperties.compression.type",
    ]);
  });

  it("redacts the JAAS config and the trust store password", () => {
    const shown = redactConfig(definition.config, {
      ...base,
      saslJaasConfig: 'x required username="u" password="hunter2";',
      sslTruststorePassword: "hunter3",
    });
    expect(shown).toMatchObject({ saslJaasConfig: REDACTED, sslTruststorePassword: REDACTED });
    expect(JSON.stringify(shown)).not.toMatch(/hunter/);
  });
});

describe("Kafka sink request planning", () => {
  it("splits a write into requests of at most batchSize bytes; a big record gets its own", () => {
    expect(planRequests([10, 10, 10, 25, 5], 20, 100)).toEqual({ requests: [[0, 1], [2], [3], [4]], tooLarge: [] });
  });

  it("sets records above maxRequestSize apart", () => {
    expect(planRequests([10, 200, 10], 1000, 100)).toEqual({ requests: [[0, 2]], tooLarge: [1] });
  });

  it("keeps the key, uses the payload bytes as value and properties as headers only when asked", () => {
    const [record] = makeSinkRecords([{ value: { a: 1 }, key: "k", properties: { p: "v" }, eventTime: 1234 }]);
    const plain = toKafkaMessage(record!, false);
    expect(plain.key).toBe("k");
    expect((plain.value as Buffer).toString()).toBe('{"a":1}');
    expect(plain.headers).toBeUndefined();
    expect(plain.timestamp).toBe("1234");
    const withHeaders = toKafkaMessage(record!, true);
    expect(withHeaders.headers).toEqual({ p: "v" });
    expect(messageSize(withHeaders)).toBe(1 + 7 + 2);
  });
});
