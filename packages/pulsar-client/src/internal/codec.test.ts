import zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PulsarClientError } from "../errors.ts";
import { MessageId } from "../message-id.ts";
import { appendBatchEntry, buildBatch, parseBatch } from "./batch.ts";
import { COMPRESSION_CODES, type CompressionType, compress, compressionName, decompress } from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { encodeCommand, encodePayloadCommand, FrameDecoder, parseFrame } from "./frame.ts";
import { javaStringHashCode, keyHash, murmur3_32, partitionForKey } from "./hash.ts";
import { decode, encode, Writer } from "./protobuf.ts";
import { BaseCommand, CommandType, MessageMetadata } from "./schema.ts";

describe("crc32c", () => {
  it("matches the standard check value and known vectors", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(crc32c(inc)).toBe(0x46dd794e);
  });
  it("chains across ranges and agrees with a bitwise reference", () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
    let ref = 0xffffffff;
    for (const b of data) {
      ref ^= b;
      for (let k = 0; k < 8; k++) ref = ref & 1 ? (ref >>> 1) ^ 0x82f63b78 : ref >>> 1;
    }
    ref = ~ref >>> 0;
    expect(crc32c(data)).toBe(ref);
    expect(crc32c(data, 333, 1000, crc32c(data, 0, 333))).toBe(ref);
  });
});

describe("key hashing", () => {
  it("murmur3_32 matches published x86_32 vectors (seed 0)", () => {
    expect(murmur3_32(Buffer.from(""))).toBe(0);
    expect(murmur3_32(Buffer.from("hello")) >>> 0).toBe(0x248bfa47);
    expect(murmur3_32(Buffer.from("The quick brown fox jumps over the lazy dog")) >>> 0).toBe(0x2e4ff723);
    expect(murmur3_32(Buffer.from([0xff, 0xff, 0xff, 0xff])) >>> 0).toBe(0x76293b50);
    expect(murmur3_32(Buffer.from([0x21, 0x43, 0x65, 0x87])) >>> 0).toBe(0xf55b516b);
  });
  it("Java String.hashCode vectors", () => {
    expect(javaStringHashCode("")).toBe(0);
    expect(javaStringHashCode("hello")).toBe(99162322);
    expect(javaStringHashCode("Aa")).toBe(javaStringHashCode("BB"));
    expect(javaStringHashCode("polygenelubricants")).toBe(-2147483648);
  });
  it("keys map to non-negative hashes and partitions", () => {
    expect(keyHash("polygenelubricants", "JavaStringHash")).toBe(0);
    for (const key of ["a", "key-1", "ünïcödé", "polygenelubricants"]) {
      for (const scheme of ["JavaStringHash", "Murmur3_32Hash"] as const) {
        const p = partitionForKey(key, 7, scheme);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(7);
      }
    }
  });
});

describe("protobuf codec", () => {
  it("round-trips commands with 64-bit, negative and nested fields", () => {
    const cmd = {
      type: CommandType.SEND_RECEIPT,
      sendReceipt: {
        producerId: 3n,
        sequenceId: 0xffffffffffffn,
        messageId: { ledgerId: -1n, entryId: 123456789012345n, partition: -1, ackSet: [-1n, 5n] },
      },
    };
    const decoded = decode(BaseCommand, encode(BaseCommand, cmd));
    expect(decoded).toEqual(cmd);
  });
  it("serializes required zero values", () => {
    const bytes = encode(BaseCommand, { type: CommandType.FLOW, flow: { consumerId: 0n, messagePermits: 0 } });
    expect(decode(BaseCommand, bytes).flow).toEqual({ consumerId: 0n, messagePermits: 0 });
  });
  it("skips unknown fields and tolerates unknown enum values", () => {
    const w = new Writer();
    w.varint((1 << 3) | 0);
    w.varint(99); // unknown command type
    w.varint((200 << 3) | 2);
    w.varint(3);
    w.raw(Buffer.from("abc"));
    w.varint((201 << 3) | 5);
    w.raw(Buffer.alloc(4));
    const decoded = decode(BaseCommand, w.buf.subarray(0, w.pos));
    expect(decoded).toEqual({ type: 99 });
  });
  it("long strings need multi-byte lengths in nested messages", () => {
    const name = "x".repeat(300);
    const meta = { producerName: name, sequenceId: 1n, publishTime: 2n, properties: [{ key: "k", value: name }] };
    expect(decode(MessageMetadata, encode(MessageMetadata, meta))).toEqual(meta);
  });
  it("rejects truncated input with a PROTOCOL error", () => {
    const bytes = encode(BaseCommand, { type: 2, connect: { clientVersion: "abc", protocolVersion: 21 } });
    expect(() => decode(BaseCommand, bytes.subarray(0, bytes.length - 2))).toThrow(PulsarClientError);
  });
});

describe("frames", () => {
  const payloadFrame = (payload: Buffer): Buffer =>
    encodePayloadCommand(
      { type: CommandType.SEND, send: { producerId: 1n, sequenceId: 7n, numMessages: 1 } },
      { producerName: "p", sequenceId: 7n, publishTime: 1000n, partitionKey: "k" },
      payload,
    );

  it("round-trips simple and payload frames through partial chunks", () => {
    const a = encodeCommand({ type: CommandType.PING, ping: {} });
    const b = payloadFrame(Buffer.from("hello world"));
    const stream = Buffer.concat([a, b, a]);
    for (const step of [1, 3, 7, stream.length]) {
      const dec = new FrameDecoder();
      const frames = [];
      for (let i = 0; i < stream.length; i += step) frames.push(...dec.push(stream.subarray(i, i + step)));
      expect(frames.map((f) => f.command.type)).toEqual([CommandType.PING, CommandType.SEND, CommandType.PING]);
      expect(frames[1]!.payload!.toString()).toBe("hello world");
      expect(frames[1]!.checksumOk).toBe(true);
      expect(frames[1]!.metadata!.partitionKey).toBe("k");
      expect(dec.buffered).toBe(0);
    }
  });
  it("flags checksum mismatches", () => {
    const f = payloadFrame(Buffer.from("hello"));
    f[f.length - 1] = f[f.length - 1]! ^ 1;
    expect(parseFrame(f.subarray(4)).checksumOk).toBe(false);
  });
  it("rejects frames above the size limit before buffering them", () => {
    const dec = new FrameDecoder(1024);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(2048);
    expect(() => dec.push(head)).toThrow(expect.objectContaining({ code: "PROTOCOL" }));
  });
  it("decoder returns frames or throws PulsarClientError for random and mutated input", () => {
    const valid = [
      encodeCommand({ type: CommandType.CONNECTED, connected: { serverVersion: "x", protocolVersion: 21 } }),
      encodeCommand({
        type: CommandType.MESSAGE,
        message: { consumerId: 1n, messageId: { ledgerId: 5n, entryId: 6n }, redeliveryCount: 2 },
      }),
      payloadFrame(Buffer.from("payload-bytes")),
    ];
    const check = (input: Uint8Array[]) => {
      const dec = new FrameDecoder(64 * 1024);
      try {
        for (const chunk of input) {
          const frames = dec.push(Buffer.from(chunk));
          for (const f of frames) expect(typeof f.command.type).toBe("number");
        }
      } catch (err) {
        if (!(err instanceof PulsarClientError) || err.code !== "PROTOCOL") throw err;
      }
    };
    const mutated = fc
      .record({
        base: fc.constantFrom(...valid),
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        cut: fc.nat(),
      })
      .map(({ base, edits, cut }) => {
        const b = Buffer.from(base);
        for (const [pos, val] of edits) b[pos % b.length] = val;
        const c = cut % (b.length + 1);
        return [b.subarray(0, c), b.subarray(c)];
      });
    const random = fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 4 });
    fc.assert(fc.property(mutated, check), { numRuns: 60_000 });
    fc.assert(fc.property(random, check), { numRuns: 40_000 });
    // Random bytes behind a valid length header exercise the command decoder rather than the size check.
    const framed = fc.uint8Array({ minLength: 4, maxLength: 200 }).map((body) => {
      const h = Buffer.alloc(8);
      h.writeUInt32BE(body.length + 4, 0);
      h.writeUInt32BE(Math.min(body.length, body[0]! % 64), 4);
      return [Buffer.concat([h, body])];
    });
    fc.assert(fc.property(framed, check), { numRuns: 20_000 });
  });
});

describe("batches and compression", () => {
  it("batch payload round-trips", () => {
    const w = new Writer();
    appendBatchEntry(
      w,
      { partitionKey: "a", sequenceId: 1n, properties: [{ key: "x", value: "y" }] },
      Buffer.from("one"),
    );
    appendBatchEntry(w, { eventTime: 5n, sequenceId: 2n }, Buffer.from(""));
    appendBatchEntry(w, { sequenceId: 3n }, Buffer.from("three"));
    const entries = parseBatch(Buffer.from(w.buf.subarray(0, w.pos)), 3);
    expect(entries.map((e) => e.payload.toString())).toEqual(["one", "", "three"]);
    expect(entries[0]!.metadata.partitionKey).toBe("a");
    expect(entries[1]!.metadata.eventTime).toBe(5n);
    expect(() => parseBatch(Buffer.from(w.buf.subarray(0, w.pos - 1)), 3)).toThrow(PulsarClientError);
  });
  it.each(["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"] as CompressionType[])(
    "%s batch: metadata and entries round-trip",
    (type) => {
      const items = Array.from({ length: 50 }, (_, i) => ({
        metadata: {
          partitionKey: `k${i % 3}`,
          properties: [{ key: "i", value: String(i) }],
          eventTime: BigInt(1000 + i),
        },
        payload: Buffer.from(`payload-${i}-${"z".repeat(i)}`),
        sequenceId: 100n + BigInt(i),
      }));
      const { metadata, payload, first, highest } = buildBatch(new Writer(16), items, type, {
        producerName: "p",
        publishTime: 5n,
      });
      expect([first, highest]).toEqual([100n, 149n]);
      expect(metadata).toMatchObject({
        producerName: "p",
        sequenceId: 100n,
        highestSequenceId: 149n,
        numMessagesInBatch: 50,
      });
      expect(metadata.compression ?? 0).toBe(COMPRESSION_CODES[type]);
      // Through a real frame and back, as a consumer sees it.
      const frame = encodePayloadCommand(
        { type: CommandType.SEND, send: { producerId: 1n, sequenceId: 100n } },
        metadata,
        payload,
      );
      const [decoded] = new FrameDecoder().push(frame);
      const md = decoded!.metadata!;
      const name = compressionName(md.compression)!;
      const raw = decompress(
        name,
        decoded!.payload!,
        name === "NONE" ? decoded!.payload!.length : md.uncompressedSize!,
      );
      const entries = parseBatch(raw, md.numMessagesInBatch!);
      expect(entries.map((e) => e.payload.toString())).toEqual(items.map((i) => i.payload.toString()));
      expect(entries.map((e) => e.metadata.sequenceId)).toEqual(items.map((i) => i.sequenceId));
      expect(entries[7]!.metadata).toMatchObject({
        partitionKey: "k1",
        eventTime: 1007n,
        properties: [{ key: "i", value: "7" }],
      });
    },
  );

  it.each(["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"] as CompressionType[])("%s round-trips", (type) => {
    const samples = [
      Buffer.alloc(0),
      Buffer.from("a"),
      Buffer.from("short text"),
      Buffer.from("abcabcabcabc".repeat(1000)),
      Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 2654435761) & 0xff)),
    ];
    for (const s of samples) {
      const c = compress(type, s);
      expect(decompress(type, c, s.length).equals(s)).toBe(true);
    }
  });
  it("ZLIB accepts a sync-flushed stream without a final block (what the Java client writes)", () => {
    const data = Buffer.from("java style deflate ".repeat(100));
    const syncFlushed = zlib.deflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(() => zlib.inflateSync(syncFlushed)).toThrow();
    expect(decompress("ZLIB", syncFlushed, data.length).equals(data)).toBe(true);
  });

  it("corrupt compressed data gives a COMPRESSION error", () => {
    expect(() => decompress("ZLIB", Buffer.from("not zlib"), 10)).toThrow(
      expect.objectContaining({ code: "COMPRESSION" }),
    );
    const c = compress("LZ4", Buffer.from("abcabcabcabc".repeat(10)));
    expect(() => decompress("LZ4", c, 5)).toThrow(expect.objectContaining({ code: "COMPRESSION" }));
  });
});

describe("MessageId", () => {
  it("serializes, deserializes and orders", () => {
    const id = new MessageId(12n, 34n, 2, 5, 10);
    const back = MessageId.deserialize(id.serialize());
    expect(back.toString()).toBe("12:34:2:5");
    expect(back.batchSize).toBe(10);
    expect(new MessageId(1n, 2n).compareTo(new MessageId(1n, 3n))).toBe(-1);
    expect(MessageId.earliest.compareTo(new MessageId(0n, 0n))).toBe(-1);
    expect(MessageId.latest.compareTo(new MessageId(1n << 40n, 0n))).toBe(1);
    expect(() => MessageId.deserialize(Buffer.from([0xff]))).toThrow(PulsarClientError);
  });
});
