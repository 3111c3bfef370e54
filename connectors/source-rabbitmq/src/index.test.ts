import { isSourceDefinition, loadConfig, parseConfig } from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

describe("rabbitmq source", () => {
  it("is a source definition named rabbitmq", () => {
    expect(isSourceDefinition(definition)).toBe(true);
    expect(definition.name).toBe("rabbitmq");
  });

  it("refuses invalid config with field-level issues", () => {
    const result = parseConfig(definition.config, { count: -1 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(["configs.count"]);
  });

  it("produces count records with monotonic sequences, then ends", async () => {
    const handle = createSourceContext({ name: "rabbitmq-test" });
    const source = await definition.open(loadConfig(definition.config, { count: 5 }), handle.context);
    const signal = new AbortController().signal;
    const first = await source.read({ maxRecords: 3, signal });
    const second = await source.read({ maxRecords: 3, signal });
    expect([...(first ?? []), ...(second ?? [])].map((record) => record.sequence)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(await source.read({ maxRecords: 3, signal })).toBeNull();
    await source.close();
  });
});
