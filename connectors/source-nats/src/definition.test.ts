import { loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

const paths = (configs: Record<string, unknown>) => {
  const result = parseConfig(definition.config, configs);
  return result.ok ? [] : result.issues.map((issue) => issue.path).sort();
};

describe("nats source config", () => {
  it("defaults to a JetStream durable consumer with explicit acks", () => {
    expect(loadConfig(definition.config, { servers: "nats://h:4222", stream: "s", durableName: "d" })).toMatchObject({
      mode: "jetstream",
      deliverPolicy: "all",
      ackWaitMs: 30_000,
      maxAckPending: 1000,
      ordered: false,
    });
  });

  it("asks for what each mode needs and refuses what it does not use", () => {
    expect(paths({ servers: "nats://h:1" })).toEqual(["configs.durableName", "configs.stream"]);
    expect(paths({ servers: "nats://h:1", mode: "core", stream: "s", ordered: true })).toEqual([
      "configs.ordered",
      "configs.stream",
      "configs.subject",
    ]);
    expect(
      paths({ servers: "nats://h:1", stream: "s", durableName: "d", ordered: true, deliverPolicy: "new" }),
    ).toEqual(["configs.deliverPolicy"]);
    expect(paths({ servers: "nats://h:1", stream: "s", durableName: "d", username: "u" })).toEqual([
      "configs.password",
    ]);
  });

  it("redacts credentials", () => {
    const config = loadConfig(definition.config, { servers: "nats://h:1", mode: "core", subject: "a", token: "t" });
    expect(redactConfig(definition.config, config)).toMatchObject({ token: REDACTED });
  });
});
