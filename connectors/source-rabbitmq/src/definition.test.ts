import { loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

describe("rabbitmq source config", () => {
  it("takes the upstream fields and defaults", () => {
    const config = loadConfig(definition.config, { host: "broker", queueName: "orders" });
    expect(config).toMatchObject({
      port: 5672,
      virtualHost: "/",
      prefetchCount: 0,
      prefetchGlobal: false,
      passive: false,
      requestedHeartbeat: 60,
    });
  });

  it("names each bad field and refuses unknown ones", () => {
    const result = parseConfig(definition.config, { host: "", queueName: "", prefetchCount: -1, queue: "typo" });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual([
      "configs",
      "configs.host",
      "configs.prefetchCount",
      "configs.queueName",
    ]);
  });

  it("refuses queueType on a passive queue, which it does not declare", () => {
    const result = parseConfig(definition.config, { host: "h", queueName: "q", passive: true, queueType: "quorum" });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(["configs.queueType"]);
  });

  it("redacts the credentials", () => {
    const config = loadConfig(definition.config, { host: "h", queueName: "q", password: "p" });
    expect(redactConfig(definition.config, config)).toMatchObject({ password: REDACTED, username: REDACTED });
  });
});
