import { describe, expect, it } from "vitest";
import { OffsetTracker } from "./offset-tracker.ts";

function handOut(tracker: OffsetTracker, offsets: number[]) {
  return offsets.map((offset) => {
    expect(tracker.accept(BigInt(offset))).toBe(true);
    return tracker.handOut(BigInt(offset));
  });
}

describe("OffsetTracker", () => {
  it("commits nothing before anything is handed out", () => {
    const tracker = new OffsetTracker();
    expect(tracker.commitDue()).toBeUndefined();
  });

  it("commits the first unacked offset, i.e. the highest contiguous acked offset + 1", () => {
    const tracker = new OffsetTracker();
    const [a, b, c, d] = handOut(tracker, [10, 11, 12, 13]);
    // Nothing acked: committing 10 would record no progress.
    expect(tracker.commitDue()).toBeUndefined();
    expect(tracker.committable()).toBe(10n);
    tracker.ack(b!);
    tracker.ack(d!);
    expect(tracker.commitDue()).toBeUndefined();
    tracker.ack(a!);
    expect(tracker.commitDue()).toBe(12n);
    tracker.ack(c!);
    expect(tracker.commitDue()).toBe(14n);
    expect(tracker.pending).toBe(0);
  });

  it("handles gaps in offsets (compacted topics)", () => {
    const tracker = new OffsetTracker();
    const [a, b] = handOut(tracker, [3, 9]);
    tracker.ack(a!);
    expect(tracker.commitDue()).toBe(9n);
    tracker.ack(b!);
    expect(tracker.commitDue()).toBe(10n);
  });

  it("reports a commit only when it moves past the last committed offset", () => {
    const tracker = new OffsetTracker();
    const [a] = handOut(tracker, [0, 1]);
    tracker.ack(a!);
    expect(tracker.commitDue()).toBe(1n);
    tracker.committed(1n);
    expect(tracker.commitDue()).toBeUndefined();
  });

  it("ignores duplicate and late acks", () => {
    const tracker = new OffsetTracker();
    const [a] = handOut(tracker, [0, 1]);
    expect(tracker.ack(a!)).toBe(true);
    expect(tracker.ack(a!)).toBe(false);
  });

  it("rewind drops the failed record and every later one, and re-accepts them from the fetcher", () => {
    const tracker = new OffsetTracker();
    const [a, b, c, d] = handOut(tracker, [0, 1, 2, 3]);
    tracker.ack(a!);
    expect(tracker.rewind(c!)).toBe(2n);
    // d was handed out after the failed record: its ack no longer counts.
    expect(tracker.ack(d!)).toBe(false);
    expect(tracker.commitDue()).toBe(1n);
    tracker.ack(b!);
    expect(tracker.commitDue()).toBe(2n);
    expect(tracker.accept(1n)).toBe(false);
    expect(tracker.accept(2n)).toBe(true);
    const c2 = tracker.handOut(2n);
    tracker.ack(c2);
    expect(tracker.commitDue()).toBe(3n);
  });

  it("rewind of a record that is not pending does nothing", () => {
    const tracker = new OffsetTracker();
    const [a, b] = handOut(tracker, [0, 1]);
    tracker.ack(a!);
    expect(tracker.rewind(a!)).toBeUndefined();
    expect(tracker.isPending(b!)).toBe(true);
  });

  it("drops re-fetched records after a rebalance (offsets below the next expected one)", () => {
    const tracker = new OffsetTracker();
    handOut(tracker, [0, 1, 2]);
    expect(tracker.accept(0n)).toBe(false);
    expect(tracker.accept(2n)).toBe(false);
    expect(tracker.accept(3n)).toBe(true);
  });

  it("keeps memory bounded over many acked records", () => {
    const tracker = new OffsetTracker();
    for (let i = 0; i < 100_000; i++) {
      tracker.accept(BigInt(i));
      tracker.ack(tracker.handOut(BigInt(i)));
    }
    expect(tracker.pending).toBe(0);
    expect(tracker.commitDue()).toBe(100_000n);
    expect((tracker as unknown as { window: unknown[] }).window.length).toBeLessThan(5000);
  });
});
