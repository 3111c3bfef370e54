import { describe, expect, it } from "vitest";
import { convertValue, parseArray, twosComplement, type ValueOptions } from "./values.ts";

const precise: ValueOptions = { decimal: "precise", time: "adaptive", binary: "bytes" };
const numericTypmod = (precision: number, scale: number) => ((precision << 16) | scale) + 4;

describe("Debezium value conversion", () => {
  it("encodes numeric as Java's BigInteger bytes (fixed scale) or {scale, value} (variable scale)", () => {
    expect(convertValue("12.34", 1700, numericTypmod(10, 2), precise)).toBe(
      Buffer.from([0x04, 0xd2]).toString("base64"),
    );
    expect(convertValue("-1.00", 1700, numericTypmod(10, 2), precise)).toBe(Buffer.from([0x9c]).toString("base64"));
    expect(convertValue("1.5", 1700, -1, precise)).toEqual({ scale: 1, value: Buffer.from([15]).toString("base64") });
    expect(convertValue("12.34", 1700, -1, { ...precise, decimal: "double" })).toBe(12.34);
    expect(convertValue("123456789012345678901234.5", 1700, -1, { ...precise, decimal: "string" })).toBe(
      "123456789012345678901234.5",
    );
  });

  it("gives BigInteger's minimal two's complement", () => {
    expect(twosComplement(0n)).toEqual(Buffer.from([0]));
    expect(twosComplement(128n)).toEqual(Buffer.from([0, 128]));
    expect(twosComplement(-128n)).toEqual(Buffer.from([0x80]));
    expect(twosComplement(-129n)).toEqual(Buffer.from([0xff, 0x7f]));
  });

  it("keeps 64-bit integers exact in JSON", () => {
    expect(JSON.stringify({ v: convertValue("9223372036854775807", 20, -1, precise) })).toBe(
      '{"v":9223372036854775807}',
    );
  });

  it("converts timestamps, dates and times as Debezium's adaptive mode does", () => {
    expect(convertValue("2024-03-01 10:00:00.5+00", 1184, -1, precise)).toBe("2024-03-01T10:00:00.5Z");
    expect(convertValue("2024-03-01 12:30:00+02:30", 1184, -1, precise)).toBe("2024-03-01T10:00:00Z");
    expect(convertValue("1970-01-01 00:00:01.000002", 1114, -1, precise)).toBe(1_000_002);
    expect(convertValue("1970-01-01 00:00:01.123", 1114, 3, precise)).toBe(1123);
    expect(convertValue("1970-01-11", 1082, -1, precise)).toBe(10);
    expect(convertValue("00:00:02.5", 1083, -1, precise)).toBe(2_500_000);
    expect(convertValue("10:00:00+02", 1266, -1, precise)).toBe("08:00:00Z");
  });

  it("parses arrays, nested ones, quoted elements and NULLs", () => {
    expect(parseArray('{1,NULL,"a,b","q\\"x"}')).toEqual(["1", null, "a,b", 'q"x']);
    expect(parseArray("{{1,2},{3,4}}")).toEqual([
      ["1", "2"],
      ["3", "4"],
    ]);
    expect(parseArray("{}")).toEqual([]);
    expect(convertValue("{1,2,NULL}", 1007, -1, precise)).toEqual([1, 2, null]);
    expect(convertValue('{"a b",c}', 1009, -1, precise)).toEqual(["a b", "c"]);
  });

  it("passes json, jsonb and text through, and gives booleans and bytes", () => {
    expect(convertValue('{"a": [1, 2]}', 3802, -1, precise)).toBe('{"a": [1, 2]}');
    expect(convertValue("t", 16, -1, precise)).toBe(true);
    expect(convertValue("\\x0102ff", 17, -1, precise)).toBe("AQL/");
    expect(convertValue("\\x0102ff", 17, -1, { ...precise, binary: "hex" })).toBe("0102ff");
    expect(convertValue("NaN", 701, -1, precise)).toBe("NaN");
  });
});
