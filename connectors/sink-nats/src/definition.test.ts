import { loadConfig, parseConfig } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { recordHeaders } from "./internal/sink.ts";

describe("nats sink", () => {
  it("defaults to JetStream and refuses wildcard subjects and unknown fields", () => {
    expect(loadConfig(definition.config, { servers: "nats://h:1", subject: "a.b" })).toMatchObject({
      mode: "jetstream",
    });
    const result = parseConfig(definition.config, { servers: "nats://h:1", subject: "a.>", subjects: "x" });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual(["configs", "configs.subject"]);
  });

  it("carries properties and the key as headers", () => {
    const [record] = makeSinkRecords([{ value: "v", key: "k", properties: { a: "1" } }]);
    if (!record) throw new Error("no record");
    const headers = recordHeaders(record);
    expect(headers?.get("a")).toBe("1");
    expect(headers?.get("Pulsar-Key")).toBe("k");
    const [bare] = makeSinkRecords([{ value: "v" }]);
    if (!bare) throw new Error("no record");
    expect(recordHeaders(bare)).toBeUndefined();
  });
});
