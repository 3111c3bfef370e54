import { ConnectorError } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import { type Column, CQL, insertStatement, recordObject, structuredRow, toColumnValue, valueText } from "./rows.ts";

const columns: Column[] = [
  { name: "id", code: 0x0009, key: true },
  { name: "userid", code: 0x000a, key: true },
  { name: "amount", code: CQL.bigint, key: false },
  { name: "at", code: CQL.timestamp, key: false },
  { name: "payload", code: CQL.blob, key: false },
];

describe("structured rows", () => {
  it("maps fields to same-named columns, case-insensitively, converting to the column types", () => {
    const row = structuredRow({ id: 1, userId: "u", amount: 12, at: 1700000000000, extra: true }, columns);
    expect(row.columns).toEqual(["id", "userid", "amount", "at"]);
    expect(row.values).toEqual([1, "u", 12n, new Date(1700000000000)]);
  });

  it("writes null for an explicit null and leaves absent fields unset", () => {
    const row = structuredRow({ id: 1, userid: "u", amount: null }, columns);
    expect(row.columns).toEqual(["id", "userid", "amount"]);
    expect(row.values[2]).toBeNull();
  });

  it("refuses a record without every primary key column, without retry", () => {
    let error: unknown;
    try {
      structuredRow({ id: 1 }, columns);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe("INVALID_RECORD");
    expect((error as ConnectorError).retryable).toBe(false);
    expect((error as ConnectorError).message).toContain("userid");
  });

  it("converts base64 text and bytes for blob columns and ISO text for timestamps", () => {
    expect(toColumnValue("AQID", CQL.blob)).toEqual(Buffer.from([1, 2, 3]));
    expect(toColumnValue(new Uint8Array([4]), CQL.blob)).toEqual(Buffer.from([4]));
    expect(toColumnValue("2024-01-02T03:04:05Z", CQL.timestamp)).toEqual(new Date("2024-01-02T03:04:05Z"));
    expect(toColumnValue("9007199254740993", CQL.varint)).toBe(9007199254740993n);
  });

  it("reads the object of JSON records, and of JSON text in string or bytes payloads", () => {
    const [json, text, bytes, bad] = makeSinkRecords<unknown>([
      { value: { a: 1 } },
      { value: '{"a":2}' },
      { value: new TextEncoder().encode('{"a":3}') },
      { value: "not json" },
    ]);
    expect(recordObject(json!)).toEqual({ a: 1 });
    expect(recordObject(text!)).toEqual({ a: 2 });
    expect(recordObject(bytes!)).toEqual({ a: 3 });
    expect(() => recordObject(bad!)).toThrow(/not a JSON object/);
    expect(valueText(bytes!)).toBe('{"a":3}');
  });

  it("quotes identifiers in the INSERT", () => {
    expect(insertStatement("ks", "t", ["a", "b"])).toBe('INSERT INTO "ks"."t" ("a", "b") VALUES (?, ?)');
  });
});
