import { describe, expect, it } from "vitest";
import { LineSplitter } from "./lines.ts";

function split(chunks: string[]) {
  const splitter = new LineSplitter();
  const lines = chunks.flatMap((chunk) => splitter.push(Buffer.from(chunk)));
  lines.push(...splitter.end());
  return lines.map((line) => [line.bytes.toString(), line.number, line.offset]);
}

describe("line splitting", () => {
  it("ends lines at \\n, \\r\\n and \\r, keeps empty lines, and emits a last line without a line end", () => {
    expect(split(["a\nbb\r\nccc\rd\n\ne"])).toEqual([
      ["a", 1, 0],
      ["bb", 2, 2],
      ["ccc", 3, 6],
      ["d", 4, 10],
      ["", 5, 12],
      ["e", 6, 13],
    ]);
  });

  it("gives the same lines whatever the chunk boundaries, a \\r\\n split between chunks included", () => {
    const text = "one\r\ntwo\rthree\n\r\nfour";
    const whole = split([text]);
    for (let cut = 1; cut < text.length; cut++) {
      expect(split([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    }
    expect(split(text.split(""))).toEqual(whole);
  });

  it("emits nothing for an empty stream and no extra line after a final line end", () => {
    expect(split([])).toEqual([]);
    expect(split(["x\n"])).toEqual([["x", 1, 0]]);
  });

  it("refuses a line longer than its bound instead of holding it", () => {
    const splitter = new LineSplitter(10);
    expect(splitter.push(Buffer.from("short\n0123456789")).map((line) => line.bytes.toString())).toEqual(["short"]);
    expect(() => splitter.push(Buffer.from("X"))).toThrow(/line 2 is longer than 10 bytes/);
  });
});
