// Pulsar frame layout: [totalSize u32][commandSize u32][BaseCommand] and, for SEND/MESSAGE,
// [0x0e02 brokerEntryMetadata]? [0x0e01][crc32c u32][metadataSize u32][MessageMetadata][payload].
import { PulsarClientError } from "../errors.ts";
import { crc32c } from "./crc32c.ts";
import { decode, encodeInto, Writer } from "./protobuf.ts";
import {
  BaseCommand,
  type BaseCommandPb,
  BrokerEntryMetadata,
  MessageMetadata,
  type MessageMetadataPb,
} from "./schema.ts";

const MAGIC_CRC = 0x0e01;
const MAGIC_BROKER_ENTRY = 0x0e02;
/** Default hard cap for an incoming frame: broker default max message size (5 MiB) plus framing padding. */
export const DEFAULT_MAX_FRAME_SIZE: number = 5 * 1024 * 1024 + 10 * 1024;

export interface Frame {
  command: BaseCommandPb;
  metadata?: MessageMetadataPb;
  payload?: Buffer;
  /** False when the payload's CRC32C did not match. */
  checksumOk?: boolean;
  brokerTimestamp?: bigint;
}

function protocolError(message: string): PulsarClientError {
  return new PulsarClientError("PROTOCOL", message);
}

/** Appends a simple command frame to `w`. */
export function writeCommandFrame(w: Writer, command: BaseCommandPb): void {
  const start = w.pos;
  w.ensure(8);
  w.pos += 8;
  encodeInto(w, BaseCommand, command);
  const cmdSize = w.pos - start - 8;
  w.buf.writeUInt32BE(cmdSize + 4, start);
  w.buf.writeUInt32BE(cmdSize, start + 4);
}

/** Appends a payload command frame (SEND) with checksum and metadata to `w`. */
export function writePayloadFrame(
  w: Writer,
  command: BaseCommandPb,
  metadata: MessageMetadataPb,
  payload: Uint8Array,
): void {
  const start = w.pos;
  w.ensure(8);
  w.pos += 8;
  encodeInto(w, BaseCommand, command);
  const cmdSize = w.pos - start - 8;
  w.buf.writeUInt32BE(cmdSize, start + 4);
  w.ensure(10);
  w.buf.writeUInt16BE(MAGIC_CRC, w.pos);
  const crcPos = w.pos + 2;
  w.pos += 10;
  const metaStart = w.pos;
  encodeInto(w, MessageMetadata, metadata);
  w.buf.writeUInt32BE(w.pos - metaStart, metaStart - 4);
  w.raw(payload);
  w.buf.writeUInt32BE(crc32c(w.buf, crcPos + 4, w.pos), crcPos);
  w.buf.writeUInt32BE(w.pos - start - 4, start);
}

export function encodeCommand(command: BaseCommandPb): Buffer {
  const w = new Writer(128);
  writeCommandFrame(w, command);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

export function encodePayloadCommand(command: BaseCommandPb, metadata: MessageMetadataPb, payload: Uint8Array): Buffer {
  const w = new Writer(256 + payload.length);
  writePayloadFrame(w, command, metadata, payload);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Parses one frame body (everything after totalSize). */
export function parseFrame(buf: Buffer): Frame {
  if (buf.length < 4) throw protocolError("frame shorter than its command size field");
  const cmdSize = buf.readUInt32BE(0);
  if (cmdSize > buf.length - 4) throw protocolError(`command size ${cmdSize} exceeds frame size ${buf.length}`);
  const cmdEnd = 4 + cmdSize;
  const command = decode(BaseCommand, buf, 4, cmdEnd);
  if (typeof command.type !== "number") throw protocolError("command without type");
  if (cmdEnd === buf.length) return { command };
  let pos = cmdEnd;
  const frame: Frame = { command };
  if (buf.length - pos >= 2 && buf.readUInt16BE(pos) === MAGIC_BROKER_ENTRY) {
    if (buf.length - pos < 6) throw protocolError("truncated broker entry metadata");
    const size = buf.readUInt32BE(pos + 2);
    if (size > buf.length - pos - 6) throw protocolError("broker entry metadata beyond frame");
    const bem = decode(BrokerEntryMetadata, buf, pos + 6, pos + 6 + size);
    if (bem.brokerTimestamp !== undefined) frame.brokerTimestamp = bem.brokerTimestamp;
    pos += 6 + size;
  }
  if (buf.length - pos < 10) throw protocolError("truncated payload header");
  if (buf.readUInt16BE(pos) !== MAGIC_CRC) throw protocolError("missing checksum magic");
  const expected = buf.readUInt32BE(pos + 2);
  const metaSize = buf.readUInt32BE(pos + 6);
  const metaStart = pos + 10;
  if (metaSize > buf.length - metaStart) throw protocolError("metadata size beyond frame");
  frame.checksumOk = crc32c(buf, pos + 6, buf.length) === expected;
  frame.metadata = decode(MessageMetadata, buf, metaStart, metaStart + metaSize);
  frame.payload = buf.subarray(metaStart + metaSize);
  return frame;
}

/**
 * Incremental decoder over a byte stream. Buffers partial frames without quadratic copying and rejects frames
 * above `maxFrameSize` before allocating anything for them. After a throw the stream is unusable.
 */
export class FrameDecoder {
  maxFrameSize: number;
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  get buffered(): number {
    return this.length;
  }

  private coalesce(): Buffer {
    const merged = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = [merged];
    return merged;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    const out: Frame[] = [];
    while (this.length >= 4) {
      let head = this.chunks[0]!;
      if (head.length < 4) head = this.coalesce();
      const total = head.readUInt32BE(0);
      if (total > this.maxFrameSize) {
        throw protocolError(`frame of ${total} bytes exceeds the limit of ${this.maxFrameSize}`);
      }
      if (total < 4) throw protocolError(`frame size ${total} too small`);
      const need = total + 4;
      if (this.length < need) break;
      if (head.length < need) head = this.coalesce();
      const body = head.subarray(4, need);
      if (head.length === need) this.chunks.shift();
      else this.chunks[0] = head.subarray(need);
      this.length -= need;
      out.push(parseFrame(body));
    }
    return out;
  }
}
