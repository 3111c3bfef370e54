import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import { parseJsonNumbers, recordPoint } from "./points.ts";

const now = () => 42n;
const one = (value: unknown) => makeSinkRecords([{ value }])[0] as Parameters<typeof recordPoint>[0];

describe("records as points", () => {
  it("keeps integer and float apart as the JSON text writes them, with 64 bits", () => {
    expect(parseJsonNumbers('{"a":3,"b":3.0,"c":1e2,"d":9223372036854775807}')).toEqual({
      a: 3n,
      b: 3,
      c: 100,
      d: 9223372036854775807n,
    });
  });

  it("maps measurement, tags and the other fields; null fields and tags are left out", () => {
    const point = recordPoint(
      one({ measurement: "cpu", tags: { host: "a", rack: 7, gone: null }, load: 0.5, cores: 8, up: true, gone: null }),
      { precision: "ms" },
      now,
    );
    expect(point).toEqual({
      measurement: "cpu",
      tags: [
        ["host", "a"],
        ["rack", "7"],
      ],
      fields: [
        ["load", { type: "float", value: 0.5 }],
        ["cores", { type: "integer", value: 8n }],
        ["up", { type: "boolean", value: true }],
      ],
      timestamp: 42n,
    });
  });

  it("takes the time from timestampField in its precision", () => {
    const point = recordPoint(
      one({ measurement: "m", at: 1700000000, v: 1 }),
      { timestampField: "at", precision: "s" },
      now,
    );
    expect(point).toMatchObject({ timestamp: 1700000000000000000n, fields: [["v", { type: "integer", value: 1n }]] });
    expect(recordPoint(one({ measurement: "m", v: 1 }), { timestampField: "at", precision: "s" }, now)).toBe(
      "the value has no at (timestampField)",
    );
  });

  it("explains records that are no point", () => {
    expect(recordPoint(one("plain text"), { precision: "ms" }, now)).toBe("the value is not JSON");
    expect(recordPoint(one([1, 2]), { precision: "ms" }, now)).toBe("the value is not a JSON object");
    expect(recordPoint(one({ v: 1 }), { precision: "ms" }, now)).toMatch(/no measurement/);
    expect(recordPoint(one({ measurement: "m", tags: [1] }), { precision: "ms" }, now)).toMatch(/tags is not/);
    expect(recordPoint(one({ measurement: "m", nested: { a: 1 } }), { precision: "ms" }, now)).toMatch(
      /field "nested" is an object/,
    );
  });
});
