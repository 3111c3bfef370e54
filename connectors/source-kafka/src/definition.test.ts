import { parseConfig, REDACTED, redactConfig, sensitiveFields } from "@pulsar-connect/core";
import { parseJaasCredentials, securityOptions } from "@pulsar-connect/kafka-common";
import { describe, expect, it } from "vitest";
import type { KafkaSourceConfig } from "./definition.ts";
import definition from "./index.ts";
import { consumerOptions, headerProperties } from "./internal/source.ts";

const base = { bootstrapServers: "127.0.0.1:9092", groupId: "g", topic: "t" };

function parse(raw: Record<string, unknown>) {
  return parseConfig(definition.config, raw);
}

describe("Kafka source config", () => {
  it("applies the upstream defaults", () => {
    const result = parse(base);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      fetchMinBytes: 1,
      autoCommitEnabled: true,
      autoCommitIntervalMs: 5000,
      sessionTimeoutMs: 30000,
      heartbeatIntervalMs: 3000,
      autoOffsetReset: "earliest",
      copyHeadersEnabled: false,
    });
  });

  it("reports every problem with its field path", () => {
    const result = parse({
      groupId: "",
      topic: "t",
      fetchMinBytes: 0,
      heartbeatIntervalMs: 40000,
      autoOffsetReset: "none",
      consumerConfigProperties: { "group.instance.id": "x", "max.poll.records": "many" },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "configs.bootstrapServers",
        "configs.groupId",
        "configs.fetchMinBytes",
        "configs.autoOffsetReset",
      ]),
    );
  });

  it("checks cross-field rules: heartbeat below session timeout, supported properties, SASL needs credentials", () => {
    const result = parse({
      ...base,
      heartbeatIntervalMs: 40000,
      consumerConfigProperties: { "group.instance.id": "x", "max.poll.records": "many" },
      securityProtocol: "SASL_SSL",
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "configs.heartbeatIntervalMs",
        "configs.consumerConfigProperties.group.instance.id",
        "configs.consumerConfigProperties.max.poll.records",
        "configs.saslMechanism",
        "configs.saslJaasConfig",
      ]),
    );
  });

  it("treats empty strings as unset, like upstream", () => {
    const result = parse({ ...base, securityProtocol: "", saslJaasConfig: "", sslTruststorePassword: "" });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value.saslJaasConfig).toBeUndefined();
  });

  it("marks the JAAS config and the trust store password sensitive, so they are redacted", () => {
    expect(sensitiveFields(definition.config).sort()).toEqual(["saslJaasConfig", "sslTruststorePassword"]);
    const shown = redactConfig(definition.config, {
      ...base,
      saslJaasConfig: 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";',
      sslTruststorePassword: "secret",
    }) as Record<string, unknown>;
    expect(shown.saslJaasConfig).toBe(REDACTED);
    expect(shown.sslTruststorePassword).toBe(REDACTED);
    expect(shown.groupId).toBe("g");
    expect(JSON.stringify(shown)).not.toContain("secret");
  });

  it("lets a secret override the JAAS config", () => {
    const result = parseConfig(definition.config, base, (name) =>
      name === "saslJaasConfig" ? 'x required username="a" password="b";' : undefined,
    );
    expect(result.ok && result.value.saslJaasConfig).toContain('username="a"');
  });
});

describe("Kafka client options", () => {
  it("maps consumer properties to kafkajs options, with explicit fields winning", () => {
    const result = parse({
      ...base,
      sessionTimeoutMs: 12000,
      consumerConfigProperties: {
        "max.poll.records": 50,
        "fetch.max.wait.ms": "250",
        "isolation.level": "read_uncommitted",
        "max.partition.fetch.bytes": 2048,
      },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const options = consumerOptions(result.value as unknown as KafkaSourceConfig);
    expect(options).toMatchObject({
      groupId: "g",
      sessionTimeout: 12000,
      heartbeatInterval: 3000,
      minBytes: 1,
      bufferSize: 50,
      maxWaitTimeInMs: 250,
      readUncommitted: true,
      maxBytesPerPartition: 2048,
    });
  });

  it("builds SASL/SCRAM over TLS from the upstream fields", () => {
    expect(
      securityOptions({
        securityProtocol: "SASL_SSL",
        saslMechanism: "SCRAM-SHA-512",
        saslJaasConfig:
          'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cr\\"et";',
        sslEnabledProtocols: "TLSv1.3,TLSv1.2",
      }),
    ).toEqual({
      ssl: { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" },
      sasl: { mechanism: "scram-sha-512", username: "alice", password: 's3cr\\"et' },
    });
    expect(securityOptions({ securityProtocol: "SSL" })).toEqual({ ssl: true });
    expect(securityOptions({})).toEqual({});
    expect(parseJaasCredentials("username=x")).toBeUndefined();
  });

  it("turns headers into properties, base64 by default as upstream does", () => {
    const message = { offset: "7", headers: { a: Buffer.from("héllo"), b: [Buffer.from("1"), Buffer.from("2")] } };
    expect(headerProperties("t", 3, message, "base64")).toEqual({
      a: Buffer.from("héllo").toString("base64"),
      b: Buffer.from("2").toString("base64"),
      __kafka_topic: "t",
      __kafka_partition: "3",
      __kafka_offset: "7",
    });
    expect(headerProperties("t", 3, message, "utf8").a).toBe("héllo");
  });
});
