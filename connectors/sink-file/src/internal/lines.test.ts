import type { ConnectorError } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import { recordLine } from "./lines.ts";

const line = (value: unknown, format: "json" | "string") => {
  const result = recordLine(makeSinkRecords([{ value }])[0] as Parameters<typeof recordLine>[0], format);
  return Buffer.isBuffer(result) ? result.toString("utf8") : (result as ConnectorError).code;
};

describe("records as lines", () => {
  it("writes JSON values on one line, JSON payload bytes re-serialised, text as a JSON string", () => {
    expect(line({ id: 1, nested: { a: [1, 2] } }, "json")).toBe('{"id":1,"nested":{"a":[1,2]}}\n');
    expect(line(new TextEncoder().encode('{\n  "id": 2\n}'), "json")).toBe('{"id":2}\n');
    expect(line(new TextEncoder().encode("not json"), "json")).toBe("INVALID_RECORD");
  });

  it("writes the payload as text in format string, refusing line breaks", () => {
    expect(line("plain text", "string")).toBe("plain text\n");
    expect(line("a\rb", "string")).toBe("INVALID_RECORD");
  });
});
