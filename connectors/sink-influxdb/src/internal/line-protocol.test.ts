import { describe, expect, it } from "vitest";
import { formatPoint, type Point, pointProblem } from "./line-protocol.ts";

const point = (overrides: Partial<Point>): Point => ({
  measurement: "m",
  tags: [],
  fields: [["v", { type: "integer", value: 1n }]],
  timestamp: 5n,
  ...overrides,
});

describe("line protocol", () => {
  it("escapes commas and spaces in measurements, and commas, equals signs and spaces in keys and tag values", () => {
    expect(
      formatPoint(
        point({
          measurement: "cpu load,x=1",
          tags: [["host name,a=b", "x y,z=w"]],
          fields: [["f k,=", { type: "float", value: 1.5 }]],
        }),
      ),
    ).toBe("cpu\\ load\\,x=1,host\\ name\\,a\\=b=x\\ y\\,z\\=w f\\ k\\,\\==1.5 5");
  });

  it("quotes string fields escaping quotes and backslashes; types integers, floats and booleans", () => {
    expect(
      formatPoint(
        point({
          fields: [
            ["s", { type: "string", value: 'say "hi" \\ bye' }],
            ["i", { type: "integer", value: -(2n ** 63n) }],
            ["f", { type: "float", value: 3 }],
            ["b", { type: "boolean", value: false }],
          ],
        }),
      ),
    ).toBe('m s="say \\"hi\\" \\\\ bye",i=-9223372036854775808i,f=3,b=false 5');
  });

  it("sorts tags and leaves out empty tag values", () => {
    expect(
      formatPoint(
        point({
          tags: [
            ["b", "2"],
            ["a", "1"],
            ["c", ""],
          ],
        }),
      ),
    ).toBe("m,a=1,b=2 v=1i 5");
  });

  it("names what cannot be written", () => {
    expect(pointProblem(point({ measurement: "" }))).toBe("the measurement is empty");
    expect(pointProblem(point({ fields: [] }))).toBe("the point has no field");
    expect(pointProblem(point({ tags: [["t", "a\nb"]] }))).toBe('tag "t" contains a line break');
    expect(pointProblem(point({ tags: [["t", "a\\"]] }))).toBe('tag "t" ends with a backslash');
    expect(pointProblem(point({ fields: [["i", { type: "integer", value: 2n ** 63n }]] }))).toMatch(/64-bit/);
    expect(pointProblem(point({}))).toBeUndefined();
  });
});
