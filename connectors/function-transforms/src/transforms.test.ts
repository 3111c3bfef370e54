import { type FunctionRecord, parseConfig, silentLogger } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import transforms, { compileExpression, type ExpressionScope } from "./index.ts";

const context = { tenant: "public", namespace: "default", name: "t", instanceId: 0, logger: silentLogger };

function record(value: unknown, extra: Partial<FunctionRecord> = {}): FunctionRecord {
  return { value, properties: {}, topicName: "persistent://public/default/in", ...extra };
}

/** Validates `config` as the runtime does, then runs the function on `input`. */
async function run(config: unknown, input: FunctionRecord) {
  const parsed = parseConfig(transforms.config, config, undefined, "transformFunctionConfig");
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return await transforms.process(input, parsed.value, context);
}

function issues(config: unknown) {
  const parsed = parseConfig(transforms.config, config, undefined, "transformFunctionConfig");
  return parsed.ok ? [] : parsed.issues;
}

describe("transforms steps", () => {
  it("drop-fields removes the named fields from the value and from a structured key", async () => {
    const out = await run(
      { steps: [{ type: "drop-fields", fields: "password, ssn" }] },
      record({ name: "ada", password: "x", ssn: "1", age: 36 }, { key: '{"id":1,"ssn":"1"}' }),
    );
    expect(out?.value).toEqual({ name: "ada", age: 36 });
    expect(out?.key).toBe('{"id":1}');
  });

  it("drop-fields with part: value leaves the key alone; a plain key is never touched", async () => {
    const keyed = await run(
      { steps: [{ type: "drop-fields", fields: "id", part: "value" }] },
      record({ id: 1, a: 2 }, { key: '{"id":1}' }),
    );
    expect(keyed).toMatchObject({ value: { a: 2 }, key: '{"id":1}' });
    const plain = await run({ steps: [{ type: "drop-fields", fields: "id" }] }, record({ id: 1 }, { key: "k-1" }));
    expect(plain).toMatchObject({ value: {}, key: "k-1" });
  });

  it("compute then drop-fields renames a field, with the expression seeing the record before the step", async () => {
    const out = await run(
      {
        steps: [
          {
            type: "compute",
            fields: [
              { name: "value.fullName", expression: "fn:concat(value.first, ' ', value.last)", type: "STRING" },
              { name: "value.first", expression: "fn:uppercase(value.first)", type: "STRING" },
              { name: "value.years", expression: "value.age + 1", type: "INT32" },
              { name: "properties.origin", expression: "topicName", type: "STRING" },
              { name: "messageKey", expression: "value.id", type: "STRING" },
            ],
          },
          { type: "drop-fields", fields: "last,age" },
        ],
      },
      record({ id: 7, first: "Grace", last: "Hopper", age: 85 }),
    );
    expect(out?.value).toEqual({ id: 7, first: "GRACE", fullName: "Grace Hopper", years: 86 });
    expect(out?.properties).toEqual({ origin: "persistent://public/default/in" });
    expect(out?.key).toBe("7");
  });

  it("drop with a when condition drops matching records only", async () => {
    const config = { steps: [{ type: "drop", when: "value.status == 'deleted' || properties.skip == 'yes'" }] };
    expect(await run(config, record({ status: "deleted" }))).toBeNull();
    expect(await run(config, record({ status: "live" }, { properties: { skip: "yes" } }))).toBeNull();
    expect(await run(config, record({ status: "live" }))).toMatchObject({ value: { status: "live" } });
  });

  it("a when condition that is false skips its step", async () => {
    const config = { steps: [{ type: "drop-fields", fields: "secret", when: "value.age >= 18" }] };
    expect((await run(config, record({ age: 17, secret: 1 })))?.value).toEqual({ age: 17, secret: 1 });
    expect((await run(config, record({ age: 18, secret: 1 })))?.value).toEqual({ age: 18 });
  });

  it("flatten joins nested names with the delimiter", async () => {
    const value = { a: { b: 1, c: { d: "x" } }, e: [1, 2] };
    expect((await run({ steps: [{ type: "flatten" }] }, record(value)))?.value).toEqual({
      a_b: 1,
      a_c_d: "x",
      e: [1, 2],
    });
    expect((await run({ steps: [{ type: "flatten", delimiter: "." }] }, record(value)))?.value).toEqual({
      "a.b": 1,
      "a.c.d": "x",
      e: [1, 2],
    });
  });

  it("merge-key-value puts the key's fields into the value; unwrap-key-value makes the key the value", async () => {
    const keyed = record({ name: "ada", id: 2 }, { key: '{"id":1,"region":"eu"}' });
    expect((await run({ steps: [{ type: "merge-key-value" }] }, keyed))?.value).toEqual({
      id: 2,
      region: "eu",
      name: "ada",
    });
    expect((await run({ steps: [{ type: "unwrap-key-value", "unwrap-key": true }] }, keyed))?.value).toEqual({
      id: 1,
      region: "eu",
    });
    expect((await run({ steps: [{ type: "unwrap-key-value" }] }, keyed))?.value).toEqual({ name: "ada", id: 2 });
  });

  it("cast to STRING turns structured values into their JSON text", async () => {
    const out = await run({ steps: [{ type: "cast", "schema-type": "STRING" }] }, record({ a: 1 }));
    expect(out?.value).toBe('{"a":1}');
  });

  it("compute can set the destination and fails the record when a required field is null", async () => {
    const routed = await run(
      {
        steps: [
          {
            type: "compute",
            fields: [{ name: "destinationTopic", expression: "fn:concat('t-', value.kind)", type: "STRING" }],
          },
        ],
      },
      record({ kind: "a" }),
    );
    expect(routed?.destinationTopic).toBe("t-a");
    await expect(
      run(
        {
          steps: [
            {
              type: "compute",
              fields: [{ name: "value.x", expression: "value.missing", type: "INT64", optional: false }],
            },
          ],
        },
        record({}),
      ),
    ).rejects.toThrow("value.x: the expression gave null and the field is not optional");
  });

  it("steps run in order and stop at a drop", async () => {
    const out = await run(
      {
        steps: [{ type: "flatten" }, { type: "drop", when: "value.a_b == 2" }, { type: "drop-fields", fields: "a_b" }],
      },
      record({ a: { b: 1 }, c: 3 }),
    );
    expect(out?.value).toEqual({ c: 3 });
    expect(
      await run({ steps: [{ type: "flatten" }, { type: "drop", when: "value.a_b == 2" }] }, record({ a: { b: 2 } })),
    ).toBeNull();
  });
});

describe("transforms config is validated field by field", () => {
  it.each([
    [{ steps: [{ type: "rename" }] }, "transformFunctionConfig.steps.0.type"],
    [{ steps: [{ type: "drop-fields", fields: "a", extra: 1 }] }, "transformFunctionConfig.steps.0"],
    [{ steps: [{ type: "drop-fields", fields: " , " }] }, "transformFunctionConfig.steps.0.fields"],
    [{ steps: [{ type: "drop-fields" }] }, "transformFunctionConfig.steps.0.fields"],
    [{ steps: [{ type: "drop", when: "value.a ==" }] }, "transformFunctionConfig.steps.0.when"],
    [{ steps: [{ type: "drop", when: "secret.a == 1" }] }, "transformFunctionConfig.steps.0.when"],
    [{ steps: [{ type: "cast", "schema-type": "AVRO" }] }, "transformFunctionConfig.steps.0.schema-type"],
    [
      { steps: [{ type: "compute", fields: [{ name: "other.x", expression: "1", type: "INT32" }] }] },
      "transformFunctionConfig.steps.0.fields.0.name",
    ],
    [
      { steps: [{ type: "compute", fields: [{ name: "value.x", expression: "fn:eval('x')", type: "INT32" }] }] },
      "transformFunctionConfig.steps.0.fields.0.expression",
    ],
    [{}, "transformFunctionConfig.steps"],
  ])("%j is refused at %s", (config, path) => {
    expect(issues(config).map((issue) => issue.path)).toContain(path);
  });

  it("names what is wrong in an expression", () => {
    expect(issues({ steps: [{ type: "drop", when: "secret.a == 1" }] })[0]?.message).toContain("unknown name 'secret'");
  });
});

describe("expressions", () => {
  const scope: ExpressionScope = {
    value: { a: 2, b: "3", nested: { c: true }, list: [10, 20] },
    key: { id: 1 },
    messageKey: '{"id":1}',
    properties: { p: "v" },
    topicName: "t",
    destinationTopic: undefined,
    eventTime: 1000,
  };
  it.each([
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["value.a + value.b", 5],
    ["value.a == 2 && value.nested.c", true],
    ["value.a eq 2 and not (value.a gt 5)", true],
    ["value.missing.deeper == null", true],
    ["value.list[1]", 20],
    ["key.id == 1", true],
    ["properties.p != 'w'", true],
    ["fn:coalesce(value.none, 'd')", "d"],
    ["fn:contains(topicName, 't')", true],
    ["-value.a % 3", -2],
    ["value.b > 2", true],
    ["eventTime >= 1000", true],
  ])("%s = %j", (text, expected) => {
    expect(compileExpression(text)(scope)).toEqual(expected);
  });

  it.each([["1 +"], ["'open"], ["value."], ["fn:concat("], ["a == 1"], ["1 ; 2"]])("%s is a syntax error", (text) => {
    expect(() => compileExpression(text)).toThrow();
  });
});
