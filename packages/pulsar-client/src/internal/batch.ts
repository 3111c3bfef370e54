// Batch payload: N x [singleMetadataSize u32][SingleMessageMetadata][payload].
import { PulsarClientError } from "../errors.ts";
import { decode, encodeInto, type Writer } from "./protobuf.ts";
import { SingleMessageMetadata, type SingleMessageMetadataPb } from "./schema.ts";

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
