import type { SourceRecord } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import type { ProducerLike } from "./pulsar.ts";
import { StoredSequences } from "./stored-sequences.ts";

/** Test double of a producer: only what the look-up reads (partition count, routing, last sequence per partition). */
function producerDouble(last: bigint[], closed: string[], name: string): ProducerLike {
  return {
    numPartitions: last.length,
    choosePartition: (key: string | undefined) => (key === undefined ? 0 : key.length % last.length),
    lastSequenceIdOf: (partition: number) => last[partition] ?? -1n,
    close: async () => {
      closed.push(name);
    },
  } as unknown as ProducerLike;
}

const record = (partitionId: string | undefined, sequence: bigint | undefined, key?: string): SourceRecord => {
  const out: SourceRecord = { value: {} };
  if (partitionId !== undefined) out.partitionId = partitionId;
  if (sequence !== undefined) out.sequence = sequence;
  if (key !== undefined) out.key = key;
  return out;
};

describe("StoredSequences", () => {
  it("holds a record at or below the last sequence stored for its partitionId, looked up once and closed", async () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const stored = new StoredSequences(async (topic, name) => {
      opened.push(`${topic}/${name}`);
      return producerDouble([41n], closed, name);
    });
    expect(await stored.holds("t", record("p-0", 40n))).toBe(true);
    expect(await stored.holds("t", record("p-0", 41n))).toBe(true);
    expect(await stored.holds("t", record("p-0", 42n))).toBe(false);
    expect(opened).toEqual(["t/p-0"]);
    expect(closed).toEqual(["p-0"]);
  });

  it("compares on the partition an EFFECTIVELY_ONCE lane sends to: the key's, else sequence modulo partitions", async () => {
    const stored = new StoredSequences(async (_topic, name) => producerDouble([10n, 20n, 30n], [], name));
    // Keyless: sequence 11 goes to partition 11 % 3 = 2 (last 30), sequence 21 to partition 0 (last 10).
    expect(await stored.holds("t", record("p", 11n))).toBe(true);
    expect(await stored.holds("t", record("p", 21n))).toBe(false);
    // Keyed: the double routes "ab" to partition 2 (last 30) and "a" to partition 1 (last 20).
    expect(await stored.holds("t", record("p", 25n, "ab"))).toBe(true);
    expect(await stored.holds("t", record("p", 25n, "a"))).toBe(false);
  });

  it("holds nothing without partitionId and sequence, or where the broker knows no sequence (no deduplication)", async () => {
    let lookups = 0;
    const stored = new StoredSequences(async (_topic, name) => {
      lookups += 1;
      return producerDouble([-1n], [], name);
    });
    expect(await stored.holds("t", record(undefined, 1n))).toBe(false);
    expect(await stored.holds("t", record("p", undefined))).toBe(false);
    expect(lookups).toBe(0);
    expect(await stored.holds("t", record("p", 0n))).toBe(false);
  });

  it("a failed look-up is not remembered: the next call asks again", async () => {
    let calls = 0;
    const stored = new StoredSequences(async (_topic, name) => {
      calls += 1;
      if (calls === 1) throw new Error("broker away");
      return producerDouble([5n], [], name);
    });
    await expect(stored.holds("t", record("p", 1n))).rejects.toThrow("broker away");
    expect(await stored.holds("t", record("p", 1n))).toBe(true);
  });
});
