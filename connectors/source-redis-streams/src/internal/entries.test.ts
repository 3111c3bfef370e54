import { describe, expect, it } from "vitest";
import { entryRecord, streamSequence } from "./entries.ts";

describe("stream entries", () => {
  it("orders sequences as stream ids order", () => {
    const ids = ["1-0", "1-1", "1-1048575", "2-0", "1700000000000-0", "1700000000000-7"];
    const sequences = ids.map(streamSequence);
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
    expect(new Set(sequences).size).toBe(ids.length);
    // The year 2200 still fits a signed 64-bit sequence id.
    expect(streamSequence("7258118400000-1048575") < 2n ** 63n).toBe(true);
  });

  it("refuses ids it cannot order", () => {
    expect(() => streamSequence("1-1048576")).toThrow(/too large/);
    expect(() => streamSequence("8796093022208-0")).toThrow(/too large/);
    expect(() => streamSequence("abc")).toThrow(/not a stream id/);
  });

  it("makes the value from one field or from all of them", () => {
    const fields = [Buffer.from("value"), Buffer.from("{}"), Buffer.from("who"), Buffer.from("me")];
    const one = entryRecord("5-1", fields, { streamKey: "s", valueField: "value", keyField: "who" });
    expect(Buffer.from(one.value as Uint8Array).toString()).toBe("{}");
    expect(one).toMatchObject({ key: "me", partitionId: "redis-stream:s", eventTime: 5 });
    expect(one.properties).toEqual({ "redis.streamId": "5-1", who: "me" });
    const all = entryRecord("5-1", fields, { streamKey: "s" });
    expect(all.value).toEqual({ value: "{}", who: "me" });
  });
});
