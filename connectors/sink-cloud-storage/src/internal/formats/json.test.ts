import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import { RecordRefused } from "./format.ts";
import { jsonFormat } from "./json.ts";

const options = {
  withMetadata: false,
  useHumanReadableMessageId: false,
  includeTopicToMetadata: false,
  includePublishTimeToMetadata: false,
  includeMessageKeyToMetadata: false,
  jsonAllowNaN: false,
  compression: "none" as const,
};

describe("json format", () => {
  it("writes bytes as base64 and big integers as text", () => {
    const [record] = makeSinkRecords<unknown>([{ value: {} }]);
    // Decoded Avro values can hold both (bytes fields, longs read as bigint).
    const decoded = { ...record, value: { raw: Buffer.from("hi"), big: 2n ** 70n, small: 5n } };
    expect(jsonFormat(options).row(decoded as never)).toBe('{"raw":"aGk=","big":"1180591620717411303424","small":5}');
  });

  it("refuses NaN unless jsonAllowNaN, which writes the bare token", () => {
    const [record] = makeSinkRecords([{ value: { x: Number.NaN, y: Number.NEGATIVE_INFINITY } }]);
    expect(() => jsonFormat(options).row(record as never)).toThrow(RecordRefused);
    expect(jsonFormat({ ...options, jsonAllowNaN: true }).row(record as never)).toBe('{"x":NaN,"y":-Infinity}');
  });

  it("refuses bytes that are not JSON and wraps non-object values with their metadata", () => {
    const [bytes] = makeSinkRecords([{ value: new Uint8Array([0xff, 0x00]) }], { schemaType: "BYTES" });
    expect(() => jsonFormat(options).row(bytes as never)).toThrow(/not JSON/);
    const [text] = makeSinkRecords([{ value: "plain text", key: "k" }]);
    const line = jsonFormat({
      ...options,
      withMetadata: true,
      useHumanReadableMessageId: true,
      includeMessageKeyToMetadata: true,
    }).row(text as never);
    expect(JSON.parse(line)).toEqual({
      value: "plain text",
      __message_metadata__: { messageId: "1:0:-1:-1", properties: {}, key: "k" },
    });
  });
});
