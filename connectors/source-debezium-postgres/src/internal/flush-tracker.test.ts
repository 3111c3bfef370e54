import { describe, expect, it } from "vitest";
import { FlushTracker } from "./flush-tracker.ts";
import { formatLsn, parseLsn } from "./lsn.ts";
import { streamingSequence } from "./source.ts";

describe("confirmed position", () => {
  it("moves past a transaction only when it committed and all its records, and all earlier ones, were acked", () => {
    const tracker = new FlushTracker(100n);
    const first = tracker.begin();
    tracker.handOut(first);
    tracker.handOut(first);
    tracker.commit(200n);
    const second = tracker.begin();
    tracker.handOut(second);
    tracker.commit(300n);
    tracker.ack(second);
    expect(tracker.confirmed).toBe(100n);
    tracker.ack(first);
    expect(tracker.confirmed).toBe(100n);
    tracker.ack(first);
    expect(tracker.confirmed).toBe(300n);
  });

  it("does not confirm an open transaction, and follows keepalives only when nothing is pending", () => {
    const tracker = new FlushTracker(100n);
    const open = tracker.begin();
    tracker.handOut(open);
    tracker.ack(open);
    tracker.idleAt(500n);
    expect(tracker.confirmed).toBe(100n);
    tracker.commit(150n);
    expect(tracker.confirmed).toBe(150n);
    tracker.idleAt(500n);
    expect(tracker.confirmed).toBe(500n);
  });

  it("confirms a transaction whose changes were all filtered out once it is at the head", () => {
    const tracker = new FlushTracker(0n);
    tracker.begin();
    tracker.commit(40n);
    expect(tracker.confirmed).toBe(40n);
  });
});

describe("streaming sequence ids", () => {
  it("grow with the commit position and the index inside a transaction", () => {
    const a = streamingSequence("s", 0x1000n, 0);
    const b = streamingSequence("s", 0x1000n, 99_999);
    const c = streamingSequence("s", 0x1001n, 0);
    expect(a.sequence < b.sequence && b.sequence < c.sequence).toBe(true);
    expect(a.partitionId).toBe("s");
  });

  it("move to a new partition every 64 GiB of WAL, staying below 2^63", () => {
    const high = streamingSequence("s", (5n << 36n) | 12n, 3);
    expect(high.partitionId).toBe("s@5");
    expect(high.sequence).toBe((12n << 27n) | 3n);
    expect(streamingSequence("s", (1n << 36n) - 1n, 2 ** 27 - 1).sequence < 2n ** 63n).toBe(true);
  });

  it("refuses a transaction too large for distinct ids", () => {
    expect(() => streamingSequence("s", 1n, 2 ** 27)).toThrow(/more than/);
  });
});

describe("WAL positions", () => {
  it("round-trips the text form", () => {
    expect(parseLsn("16/B374D848")).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe("16/B374D848");
    expect(() => parseLsn("nope")).toThrow();
  });
});
