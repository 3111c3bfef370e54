// Batch payload: N x [singleMetadataSize u32][SingleMessageMetadata][payload].
import { PulsarClientError } from "../errors.ts";
import { COMPRESSION_CODES, type CompressionType, compress } from "./compression.ts";
import { decode, encodeInto, type Writer } from "./protobuf.ts";
import { type MessageMetadataPb, SingleMessageMetadata, type SingleMessageMetadataPb } from "./schema.ts";

export interface BatchInput {
  metadata: SingleMessageMetadataPb;
  payload: Uint8Array;
  sequenceId: bigint;
}

/**
 * Builds the payload and MessageMetadata of one batch entry: lowest sequence id in `sequenceId`, highest in
 * `highestSequenceId` (for deduplication), the whole concatenation compressed once.
 */
export function buildBatch(
  w: Writer,
  items: readonly BatchInput[],
  compression: CompressionType,
  base: Omit<MessageMetadataPb, "sequenceId">,
): { metadata: MessageMetadataPb; payload: Buffer; first: bigint; highest: bigint } {
  if (items.length === 0) throw new PulsarClientError("INVALID_CONFIG", "empty batch");
  w.reset();
  let first = items[0]!.sequenceId;
  let highest = first;
  for (const item of items) {
    appendBatchEntry(w, { ...item.metadata, sequenceId: item.sequenceId }, item.payload);
    if (item.sequenceId < first) first = item.sequenceId;
    if (item.sequenceId > highest) highest = item.sequenceId;
  }
  const raw = Buffer.from(w.buf.subarray(0, w.pos));
  const metadata: MessageMetadataPb = { ...base, sequenceId: first, numMessagesInBatch: items.length };
  if (highest !== first) metadata.highestSequenceId = highest;
  if (compression === "NONE") return { metadata, payload: raw, first, highest };
  metadata.compression = COMPRESSION_CODES[compression];
  metadata.uncompressedSize = raw.length;
  return { metadata, payload: compress(compression, raw), first, highest };
}

export interface BatchEntry {
  metadata: SingleMessageMetadataPb;
  payload: Buffer;
}

/** Appends one message to a batch payload under construction. */
export function appendBatchEntry(w: Writer, metadata: SingleMessageMetadataPb, payload: Uint8Array): void {
  const sizePos = w.pos;
  w.ensure(4);
  w.pos += 4;
  encodeInto(w, SingleMessageMetadata, { ...metadata, payloadSize: payload.length });
  w.buf.writeUInt32BE(w.pos - sizePos - 4, sizePos);
  w.raw(payload);
}

export function parseBatch(payload: Buffer, count: number): BatchEntry[] {
  if (!Number.isInteger(count) || count < 0 || count > payload.length) {
    throw new PulsarClientError("PROTOCOL", `invalid batch size ${count}`);
  }
  const out: BatchEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (payload.length - pos < 4) throw new PulsarClientError("PROTOCOL", "truncated batch entry header");
    const metaSize = payload.readUInt32BE(pos);
    pos += 4;
    if (metaSize > payload.length - pos) throw new PulsarClientError("PROTOCOL", "batch entry metadata beyond payload");
    const metadata = decode(SingleMessageMetadata, payload, pos, pos + metaSize);
    pos += metaSize;
    const size = metadata.payloadSize ?? -1;
    if (size < 0 || size > payload.length - pos) {
      throw new PulsarClientError("PROTOCOL", "batch entry payload beyond payload");
    }
    out.push({ metadata, payload: payload.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}
