import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { BatchAcks } from "./internal/batch-acks.ts";
import { encode } from "./internal/protobuf.ts";
import { MessageIdData } from "./internal/schema.ts";
import { MessageId } from "./message-id.ts";

describe("MessageId.serialize", () => {
  const ids = [
    new MessageId(0n, 0n),
    new MessageId(5n, 127n, -1, -1),
    new MessageId(128n, 16_383n, 0, 0, 1),
    new MessageId(1_234_567n, 9_876_543_210n, 3, 999, 1000),
    new MessageId(BigInt(Number.MAX_SAFE_INTEGER), 2n ** 40n, 2_147_483_647, 2_147_483_647, 2_147_483_647),
    new MessageId(2n ** 60n, 2n ** 63n - 1n, 7, 1, 2),
    MessageId.earliest,
    MessageId.latest,
  ];

  it("writes the same bytes as the protobuf encoder, and reads back to the same id", () => {
    for (const id of ids) {
      const bytes = id.serialize();
      expect(Buffer.compare(bytes, encode(MessageIdData, id.toData()))).toBe(0);
      const back = MessageId.deserialize(bytes);
      expect([back.ledgerId, back.entryId, back.partition, back.batchIndex]).toEqual([
        id.ledgerId,
        id.entryId,
        id.partition,
        id.batchIndex,
      ]);
    }
  });
});

describe("MessageId of a delivered message", () => {
  it("shows nothing of its delivery: it equals the id read back from its bytes", () => {
    const ids = [new MessageId(12n, 34n, 0, 0, 2), new MessageId(12n, 34n, 0, 1, 2)];
    new BatchAcks().delivered(ids);
    const [id] = ids as [MessageId];
    expect(id).toEqual(MessageId.deserialize(id.serialize()));
    expect(Object.keys(id)).toEqual(["ledgerId", "entryId", "partition", "batchIndex", "batchSize", "topic"]);
    expect(inspect(id)).not.toMatch(/delivery/);
  });
});
