import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Lz4FormatError, lz4Compress, lz4CompressBound, lz4Decompress } from "./lz4.ts";

/** Walks a block's sequences and returns where each match starts and ends in the output. */
function matchesOf(block: Uint8Array): Array<{ start: number; end: number }> {
  const matches: Array<{ start: number; end: number }> = [];
  let ip = 0;
  let op = 0;
  while (ip < block.length) {
    const token = block[ip++]!;
    let literals = token >>> 4;
    if (literals === 15) for (let b = 255; b === 255; literals += b) b = block[ip++]!;
    ip += literals;
    op += literals;
    if (ip >= block.length) break;
    ip += 2;
    let length = token & 15;
    if (length === 15) for (let b = 255; b === 255; length += b) b = block[ip++]!;
    matches.push({ start: op, end: op + length + 4 });
    op += length + 4;
  }
  return matches;
}

const inputs = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2000 }))
    .map(([unit, n]) => Uint8Array.from({ length: n }, (_, i) => unit[i % unit.length]!)),
  fc
    .array(fc.constantFrom("order", '{"id":', '"total":12.5,', "ab", "\n"), { maxLength: 400 })
    .map((parts) => Buffer.from(parts.join(""))),
);

describe("LZ4 block writer", () => {
  it("round-trips and keeps the end-of-block rules (last match starts >= 12 bytes and ends >= 5 bytes before the end)", () => {
    fc.assert(
      fc.property(inputs, (data) => {
        const block = lz4Compress(data);
        expect(block.length).toBeLessThanOrEqual(lz4CompressBound(data.length));
        expect(lz4Decompress(block, data.length).equals(Buffer.from(data))).toBe(true);
        for (const m of matchesOf(block)) {
          expect(m.start).toBeLessThanOrEqual(data.length - 12);
          expect(m.end).toBeLessThanOrEqual(data.length - 5);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("compresses repetitive data and stores incompressible data with little overhead", () => {
    const repeated = Buffer.alloc(1 << 20, "pulsar-connect ");
    expect(lz4Compress(repeated).length).toBeLessThan(repeated.length / 100);
    const empty = lz4Compress(Buffer.alloc(0));
    expect([...empty]).toEqual([0]);
    expect(lz4Decompress(empty, 0).length).toBe(0);
  });
});

describe("LZ4 block reader", () => {
  const valid = lz4Compress(Buffer.alloc(1000, "abc"));

  it("refuses blocks that decode to another size than declared", () => {
    expect(() => lz4Decompress(valid, 999)).toThrow(Lz4FormatError);
    expect(() => lz4Decompress(valid, 1001)).toThrow(Lz4FormatError);
  });

  it("refuses offsets before the start of the output and truncated blocks", () => {
    // 1 literal, then a match 5 bytes back although only 1 byte was written.
    expect(() => lz4Decompress(Uint8Array.of(0x10, 0x41, 0x05, 0x00), 100)).toThrow(/offset/);
    expect(() => lz4Decompress(Uint8Array.of(0xf0), 100)).toThrow(/truncated/);
    expect(() => lz4Decompress(valid.subarray(0, valid.length - 1), 1000)).toThrow(Lz4FormatError);
  });

  it("never throws anything but a format error on random input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 4096 }), (block, size) => {
        try {
          lz4Decompress(block, size);
        } catch (err) {
          expect(err).toBeInstanceOf(Lz4FormatError);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
