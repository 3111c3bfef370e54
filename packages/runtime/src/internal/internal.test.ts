import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.ts";
import { decodeKeyValue, decodeValue, encodeRecord, encodeValue } from "./codec.ts";
import { secretResolver } from "./context.ts";
import { PositionIndex } from "./positions.ts";

describe("PositionIndex", () => {
  it("covers positions at or before the stored one of the same topic only", () => {
    const index = new PositionIndex([{ topic: "a", ledgerId: 5n, entryId: 10n, batchIndex: -1 }]);
    expect(index.covers({ topic: "a", ledgerId: 5n, entryId: 10n, batchIndex: -1 })).toBe(true);
    expect(index.covers({ topic: "a", ledgerId: 4n, entryId: 99n, batchIndex: -1 })).toBe(true);
    expect(index.covers({ topic: "a", ledgerId: 5n, entryId: 11n, batchIndex: -1 })).toBe(false);
    expect(index.covers({ topic: "b", ledgerId: 1n, entryId: 0n, batchIndex: -1 })).toBe(false);
    index.advance({ topic: "a", ledgerId: 6n, entryId: 0n, batchIndex: 3 });
    expect(index.covers({ topic: "a", ledgerId: 6n, entryId: 0n, batchIndex: 2 })).toBe(true);
    expect(index.covers({ topic: "a", ledgerId: 6n, entryId: 0n, batchIndex: 4 })).toBe(false);
  });
});

describe("value codec", () => {
  it("round-trips strings, bytes, JSON and Avro", () => {
    expect(decodeValue(encodeValue("héllo"), { type: "STRING" })).toBe("héllo");
    const bytes = new Uint8Array([1, 2, 3]);
    expect(encodeValue(bytes)).toBe(bytes);
    expect(decodeValue(encodeValue({ id: 1n, name: "x" }), { type: "JSON" })).toEqual({ id: "1", name: "x" });
    const definition = JSON.stringify({
      type: "record",
      name: "P",
      fields: [
        { name: "id", type: "long" },
        { name: "name", type: "string" },
      ],
    });
    const encoded = encodeValue({ id: 7, name: "ada" }, { type: "AVRO", definition });
    expect(decodeValue(encoded, { type: "AVRO", definition })).toEqual({ id: 7, name: "ada" });
  });

  it("writes and reads Avro binary as the Avro specification spells it out (bytes made by hand)", () => {
    const definition = JSON.stringify({
      type: "record",
      name: "P",
      fields: [
        { name: "id", type: "long" },
        { name: "name", type: "string" },
        { name: "score", type: ["null", "int"] },
      ],
    });
    // long 7 -> zigzag 14; string: zigzag length 3 -> 6, then UTF-8; union branch 1 -> 2, then int -65 -> zigzag 129
    // as the varint 0x81 0x01.
    const wire = [0x0e, 0x06, 0x61, 0x64, 0x61, 0x02, 0x81, 0x01];
    expect([...encodeValue({ id: 7, name: "ada", score: -65 }, { type: "AVRO", definition })]).toEqual(wire);
    expect(decodeValue(new Uint8Array(wire), { type: "AVRO", definition })).toEqual({ id: 7, name: "ada", score: -65 });
    // Branch 0 of the union is null: no bytes follow.
    expect(decodeValue(new Uint8Array([0x0e, 0x06, 0x61, 0x64, 0x61, 0x00]), { type: "AVRO", definition })).toEqual({
      id: 7,
      name: "ada",
      score: null,
    });
  });

  it("parses schemaless JSON objects and leaves other bytes alone", () => {
    expect(decodeValue(new TextEncoder().encode(' {"a":1}'))).toEqual({ a: 1 });
    const raw = new TextEncoder().encode("{not json");
    expect(decodeValue(raw)).toBe(raw);
  });
});

describe("KeyValue codec", () => {
  const json = { type: "JSON", definition: '{"type":"record","name":"R","fields":[]}' } as const;

  it("puts a SEPARATED key in the message key bytes and the value in the payload", () => {
    const schema = { type: "KEY_VALUE", key: json, value: json, encoding: "SEPARATED" } as const;
    const encoded = encodeRecord({ key: { id: 1 }, value: { op: "c" } }, schema);
    expect(Buffer.from(encoded.keyBytes ?? []).toString()).toBe('{"id":1}');
    expect(Buffer.from(encoded.payload).toString()).toBe('{"op":"c"}');
    expect(decodeKeyValue(encoded.payload, encoded.keyBytes, schema)).toEqual({ key: { id: 1 }, value: { op: "c" } });
    // Text already in JSON form is sent as it is, and a null key sends no key.
    const keyless = encodeRecord({ key: null, value: '{"op":"d"}' }, schema);
    expect(keyless.keyBytes).toBeUndefined();
    expect(decodeKeyValue(keyless.payload, undefined, schema)).toEqual({ key: null, value: { op: "d" } });
  });

  it("writes INLINE pairs length-prefixed, -1 for a null part, and reads them back", () => {
    const schema = { type: "KEY_VALUE", key: { type: "STRING" }, value: json, encoding: "INLINE" } as const;
    const encoded = encodeRecord({ key: "k1", value: { a: 1 } }, schema);
    expect(encoded.keyBytes).toBeUndefined();
    expect([...encoded.payload]).toEqual([0, 0, 0, 2, 0x6b, 0x31, 0, 0, 0, 7, ...Buffer.from('{"a":1}')]);
    expect(decodeKeyValue(encoded.payload, undefined, schema)).toEqual({ key: "k1", value: { a: 1 } });
    const nullKey = encodeRecord({ key: null, value: { a: 2 } }, schema);
    expect([...nullKey.payload.subarray(0, 4)]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(decodeKeyValue(nullKey.payload, undefined, schema)).toEqual({ key: null, value: { a: 2 } });
    expect(() => decodeKeyValue(new Uint8Array([0, 0, 0, 9, 1]), undefined, schema)).toThrow("shorter");
  });

  it("refuses a value that is not a { key, value } pair, and a SEPARATED pair without a value", () => {
    const schema = { type: "KEY_VALUE", key: json, value: json, encoding: "SEPARATED" } as const;
    expect(() => encodeRecord("plain", schema)).toThrow("{ key, value }");
    expect(() => encodeRecord({ key: 1, value: null }, schema)).toThrow("needs a value");
  });

  it("refuses a JSON or AVRO part without a definition (the broker would not register it)", () => {
    const schema = { type: "KEY_VALUE", key: { type: "STRING" }, value: { type: "JSON" }, encoding: "INLINE" } as const;
    expect(() => encodeRecord({ key: "k", value: {} }, schema)).toThrow(
      "the value schema of a KeyValue record is JSON without a definition",
    );
  });
});

describe("secrets and backoff", () => {
  it("resolves plain and environment secrets", () => {
    process.env.PC_TEST_SECRET = "from-env";
    const resolve = secretResolver({ password: "p", token: { env: "PC_TEST_SECRET" } });
    expect(resolve("password")).toBe("p");
    expect(resolve("token")).toBe("from-env");
    expect(resolve("missing")).toBeUndefined();
  });

  it("grows exponentially up to the cap", () => {
    const backoff = new Backoff(100, 1000);
    const delays = Array.from({ length: 6 }, () => backoff.next());
    expect(delays[0]).toBeGreaterThanOrEqual(90);
    expect(delays[0]).toBeLessThanOrEqual(110);
    expect(delays[5]).toBeLessThanOrEqual(1100);
    expect(delays[5]).toBeGreaterThanOrEqual(900);
  });
});
