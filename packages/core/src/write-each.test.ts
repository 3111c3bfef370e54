import { describe, expect, it } from "vitest";
import { ConnectorError } from "./errors.ts";
import type { SinkRecord } from "./records.ts";
import { writeEach } from "./write-each.ts";

const records = (count: number): SinkRecord[] =>
  Array.from({ length: count }, (_, index) => ({ value: index }) as unknown as SinkRecord);
const asError = (error: unknown) => error as ConnectorError;

describe("writeEach", () => {
  it("writes every record in order and reports nothing when all succeed", async () => {
    const seen: unknown[] = [];
    const outcome = await writeEach(records(3), async (record) => seen.push(record.value), asError);
    expect(outcome).toBeUndefined();
    expect(seen).toEqual([0, 1, 2]);
  });

  it("reports a record refused for good alone and goes on with the rest", async () => {
    const seen: unknown[] = [];
    const refused = new ConnectorError("INVALID_RECORD", "bad", { retryable: false });
    const outcome = await writeEach(
      records(3),
      async (record) => {
        if (record.value === 1) throw refused;
        seen.push(record.value);
      },
      asError,
    );
    expect(seen).toEqual([0, 2]);
    expect(outcome).toEqual({ failed: [{ index: 1, error: refused }] });
  });

  it("stops at the first retryable error and hands the rest back with it, unwritten", async () => {
    const seen: unknown[] = [];
    const busy = new ConnectorError("CONNECTION_FAILED", "overloaded", { retryable: true });
    const outcome = await writeEach(
      records(4),
      async (record) => {
        if (record.value === 1) throw busy;
        seen.push(record.value);
      },
      asError,
    );
    expect(seen).toEqual([0]);
    expect(outcome?.failed.map((failure) => failure.index)).toEqual([1, 2, 3]);
    expect(outcome?.failed.every((failure) => failure.error === busy)).toBe(true);
  });

  it("throws when nothing of the batch was written, so the runtime retries the whole write", async () => {
    const busy = new ConnectorError("CONNECTION_FAILED", "down", { retryable: true });
    await expect(
      writeEach(
        records(2),
        async () => {
          throw new Error("socket closed");
        },
        () => busy,
      ),
    ).rejects.toBe(busy);
  });
});
