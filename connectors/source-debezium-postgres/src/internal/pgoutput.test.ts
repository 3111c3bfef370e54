import { describe, expect, it } from "vitest";
import { decodePgOutput, pgTimeToUnixMs } from "./pgoutput.ts";

/** Writes protocol fields the way the server does (big-endian, NUL-terminated strings). */
class Writer {
  private readonly parts: Buffer[] = [];
  char(c: string) {
    this.parts.push(Buffer.from(c, "ascii"));
    return this;
  }
  u8(v: number) {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  i16(v: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  cstring(s: string) {
    this.parts.push(Buffer.from(`${s}\0`, "utf8"));
    return this;
  }
  text(s: string) {
    const bytes = Buffer.from(s, "utf8");
    this.char("t").i32(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  done() {
    return Buffer.concat(this.parts);
  }
}

describe("pgoutput decoding", () => {
  it("reads Begin and Commit with their positions and times", () => {
    const micros = 789_000_000_000n;
    const begin = decodePgOutput(new Writer().char("B").u64(0x1_0000_0100n).u64(micros).i32(4242).done());
    expect(begin).toEqual({ tag: "begin", finalLsn: 0x1_0000_0100n, commitTime: micros, xid: 4242 });
    const commit = decodePgOutput(new Writer().char("C").u8(0).u64(0x100n).u64(0x130n).u64(micros).done());
    expect(commit).toEqual({ tag: "commit", flags: 0, commitLsn: 0x100n, endLsn: 0x130n, commitTime: micros });
    expect(pgTimeToUnixMs(micros)).toBe(946_684_800_000 + 789_000_000);
  });

  it("reads a Relation with key flags, type oids and modifiers", () => {
    const message = new Writer()
      .char("R")
      .i32(16384)
      .cstring("public")
      .cstring("orders")
      .char("d")
      .i16(2)
      .u8(1)
      .cstring("id")
      .i32(23)
      .i32(-1)
      .u8(0)
      .cstring("amount")
      .i32(1700)
      .i32((10 << 16) + 2 + 4)
      .done();
    expect(decodePgOutput(message)).toEqual({
      tag: "relation",
      relation: {
        relationId: 16384,
        schema: "public",
        table: "orders",
        replicaIdentity: "d",
        columns: [
          { name: "id", typeOid: 23, typeModifier: -1, isKey: true },
          { name: "amount", typeOid: 1700, typeModifier: (10 << 16) + 6, isKey: false },
        ],
      },
    });
  });

  it("tells text, NULL and unchanged TOAST values apart in an update with the old key", () => {
    const message = new Writer()
      .char("U")
      .i32(7)
      .char("K")
      .i16(2)
      .text("1")
      .char("n")
      .char("N")
      .i16(3)
      .text("2")
      .char("n")
      .char("u")
      .done();
    expect(decodePgOutput(message)).toEqual({
      tag: "update",
      relationId: 7,
      oldKind: "key",
      oldTuple: [{ kind: "text", text: "1" }, { kind: "null" }],
      newTuple: [{ kind: "text", text: "2" }, { kind: "null" }, { kind: "unchanged" }],
    });
  });

  it("reads an update without old values, a full-identity delete, an insert and a truncate", () => {
    expect(decodePgOutput(new Writer().char("U").i32(7).char("N").i16(1).text("é").done())).toEqual({
      tag: "update",
      relationId: 7,
      oldKind: undefined,
      oldTuple: undefined,
      newTuple: [{ kind: "text", text: "é" }],
    });
    expect(decodePgOutput(new Writer().char("D").i32(7).char("O").i16(1).text("9").done())).toEqual({
      tag: "delete",
      relationId: 7,
      oldKind: "old",
      oldTuple: [{ kind: "text", text: "9" }],
    });
    expect(decodePgOutput(new Writer().char("I").i32(7).char("N").i16(1).text("x").done())).toMatchObject({
      tag: "insert",
      newTuple: [{ kind: "text", text: "x" }],
    });
    expect(decodePgOutput(new Writer().char("T").i32(2).u8(1).i32(7).i32(8).done())).toEqual({
      tag: "truncate",
      options: 1,
      relationIds: [7, 8],
    });
  });

  it("refuses unknown and truncated messages", () => {
    expect(() => decodePgOutput(Buffer.from("Z"))).toThrow(/unknown message type/);
    const truncated = new Writer().char("I").i32(7).char("N").i16(1).char("t").i32(10).done();
    expect(() => decodePgOutput(truncated)).toThrow(/ends early/);
  });
});
