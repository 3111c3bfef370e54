import { loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

describe("rabbitmq sink config", () => {
  it("takes the upstream fields and defaults", () => {
    const config = loadConfig(definition.config, { host: "broker", exchangeName: "events" }) as Record<string, unknown>;
    expect(config).toMatchObject({
      port: 5672,
      virtualHost: "/",
      username: "guest",
      routingKey: "",
      queueName: "",
      requestedHeartbeat: 60,
      connectionTimeout: 60_000,
      handshakeTimeout: 10_000,
      deliveryMode: "persistent",
    });
  });

  it("names each bad field", () => {
    const result = parseConfig(definition.config, { host: "", exchangeName: "", exchangeType: "x", port: 70_000 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual([
      "configs.exchangeName",
      "configs.exchangeType",
      "configs.host",
      "configs.port",
    ]);
  });

  it("refuses an exchange type other than direct for a bound queue", () => {
    const result = parseConfig(definition.config, {
      host: "h",
      exchangeName: "x",
      queueName: "q",
      exchangeType: "topic",
    });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(["configs.exchangeType"]);
  });

  it("refuses fields it does not know", () => {
    const result = parseConfig(definition.config, { host: "h", exchangeName: "x", exchange: "typo" });
    expect(result.ok).toBe(false);
  });

  it("redacts the credentials", () => {
    const config = loadConfig(definition.config, { host: "h", exchangeName: "x", username: "u", password: "p" });
    expect(redactConfig(definition.config, config)).toMatchObject({ username: REDACTED, password: REDACTED });
  });
});
