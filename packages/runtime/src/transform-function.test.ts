import { defineFunction, type SinkRecord, silentLogger, z } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import { RecordTransform } from "./internal/record-transform.ts";
import { checkTransformFunction, transformFunctionName } from "./transform-function.ts";

const upper = defineFunction({
  name: "upper",
  description: "upper-cases a field",
  config: z.object({ field: z.string().min(1), route: z.string().optional() }),
  async process(record, config) {
    const value = record.value as Record<string, unknown>;
    if (value.fail) throw new Error(`cannot handle ${String(value.id)}`);
    if (value.drop) return null;
    const out = { ...record, value: { ...value, [config.field]: String(value[config.field]).toUpperCase() } };
    out.properties.seen = "yes";
    if (config.route) out.destinationTopic = config.route;
    return out;
  },
});
const installed = { name: "upper", packageName: "@acme/function-upper", definition: upper };
const lookup = (name: string) => (name === "upper" ? installed : undefined);

function sinkRecord(value: unknown): SinkRecord {
  const data = new TextEncoder().encode(JSON.stringify(value));
  return {
    value,
    data,
    key: "k",
    properties: { a: "1" },
    publishTime: 1,
    topicName: "persistent://public/default/in",
    position: { topic: "persistent://public/default/in", ledgerId: 1n, entryId: 2n, batchIndex: -1 },
    messageId: "id",
    redeliveryCount: 0,
    schema: { type: "AVRO", definition: '{"type":"record","name":"r","fields":[]}' },
  };
}

function transform(config: Record<string, unknown>, routesByDestination = false): RecordTransform {
  return new RecordTransform({
    definition: upper,
    config,
    context: { tenant: "public", namespace: "default", name: "s", instanceId: 0, logger: silentLogger },
    sinkName: "jdbc-sqlite",
    routesByDestination,
  });
}

describe("transform function fields", () => {
  it("select a function by builtin:// or bare name; anything else names none", () => {
    expect(transformFunctionName("builtin://upper")).toBe("upper");
    expect(transformFunctionName("upper")).toBe("upper");
    expect(transformFunctionName("function://public/default/upper@1")).toBeUndefined();
    expect(transformFunctionName("https://example.com/f.nar")).toBeUndefined();
  });

  it("are checked against the installed function: presence, class name and config, field by field", () => {
    const check = (config: Record<string, unknown>) =>
      checkTransformFunction(config, lookup, ["upper"]).map((issue) => `${issue.path}: ${issue.message}`);
    expect(check({ transformFunction: "builtin://upper", transformFunctionConfig: '{"field":"name"}' })).toEqual([]);
    expect(check({})).toEqual([]);
    expect(check({ transformFunction: "builtin://lower" })).toEqual([
      "transformFunction: function 'lower' is not installed -- available functions are: [upper]",
    ]);
    expect(
      check({
        transformFunction: "upper",
        transformFunctionClassName: "@acme/function-upper",
        transformFunctionConfig: '{"field":"n"}',
      }),
    ).toEqual([]);
    expect(check({ transformFunction: "upper", transformFunctionClassName: "com.acme.Upper" })[0]).toContain(
      "transformFunctionClassName: 'com.acme.Upper' is not the function of upper: it is @acme/function-upper",
    );
    expect(check({ transformFunction: "upper", transformFunctionConfig: '{"field":""}' })).toEqual([
      "transformFunctionConfig.field: Too small: expected string to have >=1 characters",
    ]);
    expect(check({ transformFunction: "upper" })[0]).toMatch(/^transformFunctionConfig.field: /);
  });
});

describe("RecordTransform", () => {
  it("hands the sink the function's result, re-encoded, with a schema that matches it", async () => {
    const out = await transform({ field: "name" }).apply(sinkRecord({ id: 1, name: "ada" }));
    expect(out?.value).toEqual({ id: 1, name: "ADA" });
    expect(new TextDecoder().decode(out?.data)).toBe('{"id":1,"name":"ADA"}');
    expect(out?.schema).toEqual({ type: "JSON" });
    expect(out?.properties).toEqual({ a: "1", seen: "yes" });
    expect(out?.key).toBe("k");
    expect(out?.position.entryId).toBe(2n);
  });

  it("drops the record when the function returns null", async () => {
    expect(await transform({ field: "name" }).apply(sinkRecord({ id: 1, drop: true }))).toBeUndefined();
  });

  it("turns a throw into a non-retryable record failure naming the function", async () => {
    await expect(transform({ field: "name" }).apply(sinkRecord({ id: 7, fail: true }))).rejects.toMatchObject({
      code: "INVALID_RECORD",
      retryable: false,
      message: "transform function 'upper' failed: cannot handle 7",
    });
  });

  it("refuses a destination for a sink that cannot route, and passes it to one that can", async () => {
    await expect(transform({ field: "name", route: "t2" }).apply(sinkRecord({ name: "a" }))).rejects.toThrow(
      "set destinationTopic 't2', but the jdbc-sqlite sink writes only to its configured destination",
    );
    const routed = await transform({ field: "name", route: "t2" }, true).apply(sinkRecord({ name: "a" }));
    expect(routed?.destinationTopic).toBe("t2");
  });
});
