import { describe, expect, it } from "vitest";
import { MessageId } from "../message-id.ts";
import { BatchAcks } from "./batch-acks.ts";

/** The messages of one batch entry as a delivery hands them out. */
function batch(entryId: bigint, size: number): MessageId[] {
  return Array.from({ length: size }, (_, i) => new MessageId(7n, entryId, -1, i, size));
}

describe("BatchAcks", () => {
  it("acknowledges an entry once every message of it was acknowledged", () => {
    const acks = new BatchAcks();
    const ids = batch(1n, 3);
    acks.delivered(ids);
    expect(ids.map((id) => acks.acknowledged(id))).toEqual([false, false, true]);
  });

  it("does not complete an entry with an earlier copy's acknowledgement after a reconnect forgot the deliveries", () => {
    const acks = new BatchAcks();
    const first = batch(1n, 4);
    acks.delivered(first);
    // Reconnect: the broker will deliver the entry again; messages 1..3 of the first copy were dropped from the
    // queue unprocessed, message 0 is still being written.
    acks.clear();
    // Its acknowledgement arrives before the new copy: acknowledging the entry now would lose messages 1..3.
    expect(acks.acknowledged(first[0] as MessageId)).toBe(false);
    const second = batch(1n, 4);
    acks.delivered(second);
    expect(second.map((id) => acks.acknowledged(id))).toEqual([false, false, false, true]);
  });

  it("keeps each delivery's own count when an entry is delivered again", () => {
    const acks = new BatchAcks();
    const first = batch(2n, 2);
    acks.delivered(first);
    const second = batch(2n, 2);
    acks.delivered(second);
    // Both messages of the first copy processed: every message of the entry was processed once.
    expect(acks.acknowledged(first[0] as MessageId)).toBe(false);
    expect(acks.acknowledged(first[1] as MessageId)).toBe(true);
    expect(acks.acknowledged(second[0] as MessageId)).toBe(false);
    expect(acks.acknowledged(second[1] as MessageId)).toBe(true);
  });

  it("acknowledges a message id it never handed out (built by the user) as its whole entry", () => {
    const acks = new BatchAcks();
    expect(acks.acknowledged(new MessageId(7n, 9n, -1, 0, 2))).toBe(true);
  });

  it("completes entries up to a cumulative acknowledgement, and its own entry only when it reaches the end", () => {
    const acks = new BatchAcks();
    const a = batch(1n, 2);
    const b = batch(2n, 3);
    acks.delivered(a);
    acks.delivered(b);
    expect(acks.acknowledgedUpTo(b[1] as MessageId)).toBe(false);
    expect(acks.acknowledged(a[0] as MessageId)).toBe(true);
    expect(acks.acknowledged(b[2] as MessageId)).toBe(true);
  });

  it("remembers which messages of an entry were acknowledged, so a later delivery hands out only the others", () => {
    const acks = new BatchAcks();
    const first = batch(3n, 5);
    acks.delivered(first);
    expect(acks.acknowledged(first[0] as MessageId)).toBe(false);
    expect(acks.acknowledged(first[1] as MessageId)).toBe(false);
    acks.clear();
    expect([0, 1, 2, 3, 4].map((i) => acks.alreadyAcknowledged(new MessageId(7n, 3n, -1, i, 5)))).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
    const second = batch(3n, 5).slice(2);
    acks.delivered(second);
    expect(second.map((id) => acks.acknowledged(id))).toEqual([false, false, true]);
    // Complete: nothing of the entry is remembered any more.
    expect(acks.alreadyAcknowledged(new MessageId(7n, 3n, -1, 0, 5))).toBe(false);
  });

  it("forgets what was acknowledged when the consumer seeks (the user asked to read again)", () => {
    const acks = new BatchAcks();
    const ids = batch(4n, 2);
    acks.delivered(ids);
    acks.acknowledged(ids[0] as MessageId);
    acks.reset();
    expect(acks.alreadyAcknowledged(ids[0] as MessageId)).toBe(false);
  });

  it("completes an entry acknowledged part in one delivery, part in the next", () => {
    const acks = new BatchAcks();
    const first = batch(5n, 4);
    acks.delivered(first);
    expect(acks.acknowledged(first[0] as MessageId)).toBe(false);
    expect(acks.acknowledged(first[1] as MessageId)).toBe(false);
    const second = batch(5n, 4);
    acks.delivered(second);
    expect(acks.acknowledged(second[2] as MessageId)).toBe(false);
    expect(acks.acknowledged(second[3] as MessageId)).toBe(true);
  });

  it("does not remember a transactional acknowledgement (the transaction may abort)", () => {
    const acks = new BatchAcks();
    const ids = batch(6n, 2);
    acks.delivered(ids);
    expect(acks.acknowledged(ids[0] as MessageId, false)).toBe(false);
    acks.clear();
    expect(acks.alreadyAcknowledged(ids[0] as MessageId)).toBe(false);
  });

  it("remembers a bounded number of partly acknowledged entries, the newest", () => {
    const acks = new BatchAcks();
    for (let entry = 0n; entry < 10_050n; entry++) {
      const ids = batch(entry, 2);
      acks.delivered(ids);
      acks.acknowledged(ids[0] as MessageId);
    }
    expect(acks.alreadyAcknowledged(new MessageId(7n, 0n, -1, 0, 2))).toBe(false);
    expect(acks.alreadyAcknowledged(new MessageId(7n, 10_049n, -1, 0, 2))).toBe(true);
  });
});
