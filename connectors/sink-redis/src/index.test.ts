import { ConnectorError, isSinkDefinition, loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

describe("redis sink", () => {
  it("is a sink definition named redis", () => {
    expect(isSinkDefinition(definition)).toBe(true);
    expect(definition.name).toBe("redis");
  });

  it("refuses invalid config with field-level issues and redacts the token", () => {
    const result = parseConfig(definition.config, { batchSize: 0 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual(["configs.batchSize", "configs.endpoint"]);
    const config = loadConfig(definition.config, { endpoint: "local", token: "secret" });
    expect((redactConfig(definition.config, config) as { token: string }).token).toBe(REDACTED);
  });

  it("writes a batch", async () => {
    const handle = createSinkContext({ name: "redis-test" });
    const sink = await definition.open(loadConfig(definition.config, { endpoint: "local" }), handle.context);
    await sink.write(makeSinkRecords([{ value: { id: 1 } }, { value: { id: 2 } }]));
    await sink.close();
    expect(handle.metrics).toEqual([{ name: "written", value: 2 }]);
  });

  it("reports an unreachable endpoint as a retryable error", async () => {
    const handle = createSinkContext();
    const error = await definition.open(loadConfig(definition.config, { endpoint: "unreachable" }), handle.context).catch(
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
  });
});
