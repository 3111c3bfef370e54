// Minimal proto2 wire codec driven by field tables. Only what the Pulsar protocol needs: varints (32/64-bit),
// length-delimited strings/bytes/messages, repeated fields (packed or not on decode), unknown fields skipped.
import { PulsarClientError } from "../errors.ts";

export type Scalar = "u32" | "i32" | "u64" | "i64" | "bool" | "string" | "bytes";
export type FieldSpec = readonly [no: number, type: Scalar | MsgSchema, repeated?: "rep"];
export interface MsgSchema {
  readonly [name: string]: FieldSpec;
}

type ScalarTs<T> = T extends "u32" | "i32"
  ? number
  : T extends "u64" | "i64"
    ? bigint
    : T extends "bool"
      ? boolean
      : T extends "string"
        ? string
        : T extends "bytes"
          ? Uint8Array
          : never;
type ValTs<T> = T extends Scalar ? ScalarTs<T> : T extends MsgSchema ? Pb<T> : never;
type FieldTs<F> = F extends readonly [number, infer T, "rep"]
  ? ValTs<T>[]
  : F extends readonly [number, infer T, ...unknown[]]
    ? ValTs<T>
    : never;
/** Decoded/encodable shape of a message described by schema S; every field optional. */
export type Pb<S extends MsgSchema> = { -readonly [K in keyof S]?: FieldTs<S[K]> };

const MAX_DEPTH = 12;
const TWO_32 = 4294967296;

interface Compiled {
  byNo: Map<number, [name: string, type: Scalar | MsgSchema, repeated: boolean]>;
  order: [name: string, no: number, type: Scalar | MsgSchema, repeated: boolean][];
}
const compiled = new WeakMap<MsgSchema, Compiled>();
function compile(schema: MsgSchema): Compiled {
  let c = compiled.get(schema);
  if (c) return c;
  c = { byNo: new Map(), order: [] };
  for (const [name, spec] of Object.entries(schema)) {
    const repeated = spec[2] === "rep";
    c.byNo.set(spec[0], [name, spec[1], repeated]);
    c.order.push([name, spec[0], spec[1], repeated]);
  }
  c.order.sort((a, b) => a[1] - b[1]);
  compiled.set(schema, c);
  return c;
}

function protocolError(message: string): PulsarClientError {
  return new PulsarClientError("PROTOCOL", `malformed protobuf: ${message}`);
}

/** Growable output buffer; reused across encodes by the frame writer. */
export class Writer {
  buf: Buffer;
  pos = 0;
  constructor(initial = 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  reset(): void {
    this.pos = 0;
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  /** Non-negative integer below 2^53. */
  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  varint64(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    if (v < 0x20000000000000n) {
      this.varint(Number(v));
      return;
    }
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }
  int32(value: number): void {
    if (value >= 0) this.varint(value);
    else this.varint64(BigInt(value));
  }
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  string(s: string): void {
    const len = Buffer.byteLength(s);
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }
  u32be(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeValue(w: Writer, no: number, type: Scalar | MsgSchema, value: unknown): void {
  switch (type) {
    case "u32":
    case "i32":
      w.varint(no << 3);
      w.int32(value as number);
      return;
    case "u64":
    case "i64":
      w.varint(no << 3);
      w.varint64(value as bigint);
      return;
    case "bool":
      w.varint(no << 3);
      w.byte(value ? 1 : 0);
      return;
    case "string":
      w.varint((no << 3) | 2);
      w.string(value as string);
      return;
    case "bytes":
      w.varint((no << 3) | 2);
      w.varint((value as Uint8Array).length);
      w.raw(value as Uint8Array);
      return;
    default: {
      w.varint((no << 3) | 2);
      // Reserve one length byte, encode, then shift if the length needs more bytes.
      const lenPos = w.pos;
      w.byte(0);
      const start = w.pos;
      encodeInto(w, type, value as Record<string, unknown>);
      const len = w.pos - start;
      const extra = varintSize(len) - 1;
      if (extra > 0) {
        w.ensure(extra);
        w.buf.copyWithin(start + extra, start, w.pos);
        w.pos += extra;
      }
      let p = lenPos;
      let v = len;
      while (v >= 0x80) {
        w.buf[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      w.buf[p] = v;
    }
  }
}

export function encodeInto<S extends MsgSchema>(w: Writer, schema: S, msg: Pb<S> | Record<string, unknown>): void {
  const c = compile(schema);
  const m = msg as Record<string, unknown>;
  for (const [name, no, type, repeated] of c.order) {
    const value = m[name];
    if (value === undefined || value === null) continue;
    if (repeated) {
      for (const item of value as unknown[]) writeValue(w, no, type, item);
    } else {
      writeValue(w, no, type, value);
    }
  }
}

export function encode<S extends MsgSchema>(schema: S, msg: Pb<S>): Buffer {
  const w = new Writer(256);
  encodeInto(w, schema, msg);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Bounded reader over a byte range. */
class Reader {
  pos: number;
  readonly buf: Uint8Array;
  readonly end: number;
  constructor(buf: Uint8Array, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }
  varint32(): number {
    // Returns the low 32 bits as an unsigned number; consumes up to 10 bytes.
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw protocolError("truncated varint");
      const b = this.buf[this.pos++]!;
      if (shift < 32) result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result % TWO_32;
    }
    throw protocolError("varint too long");
  }
  varint64(): bigint {
    let lo = 0;
    let shift = 0;
    // Fast path: up to 7 bytes fit a double exactly.
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw protocolError("truncated varint");
      const b = this.buf[this.pos++]!;
      lo += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return BigInt(lo);
    }
    this.pos = start;
    let result = 0n;
    let s = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw protocolError("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << s;
      s += 7n;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw protocolError("varint too long");
  }
  length(): number {
    const len = this.varint32();
    if (len > this.end - this.pos) throw protocolError("length beyond end of message");
    return len;
  }
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint32();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.length());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw protocolError(`unsupported wire type ${wireType}`);
    }
  }
  advance(n: number): void {
    if (n > this.end - this.pos) throw protocolError("field beyond end of message");
    this.pos += n;
  }
}

function readScalar(r: Reader, type: Scalar): unknown {
  switch (type) {
    case "u32":
      return r.varint32();
    case "i32":
      return r.varint32() | 0;
    case "u64":
      return r.varint64();
    case "i64":
      return BigInt.asIntN(64, r.varint64());
    case "bool":
      return r.varint32() !== 0;
    case "string": {
      const len = r.length();
      const s = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, len).toString("utf8");
      r.pos += len;
      return s;
    }
    case "bytes": {
      const len = r.length();
      const b = Buffer.from(r.buf.subarray(r.pos, r.pos + len));
      r.pos += len;
      return b;
    }
  }
}

function isVarintType(type: Scalar | MsgSchema): boolean {
  return type === "u32" || type === "i32" || type === "u64" || type === "i64" || type === "bool";
}

function pushRepeated(out: Record<string, unknown>, name: string, value: unknown): void {
  const arr = out[name] as unknown[] | undefined;
  if (arr) arr.push(value);
  else out[name] = [value];
}

function decodeRange(
  schema: MsgSchema,
  buf: Uint8Array,
  start: number,
  end: number,
  depth: number,
): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw protocolError("nesting too deep");
  const c = compile(schema);
  const r = new Reader(buf, start, end);
  const out: Record<string, unknown> = {};
  while (r.pos < r.end) {
    const tag = r.varint32();
    const no = tag >>> 3;
    const wireType = tag & 7;
    if (no === 0) throw protocolError("field number 0");
    const field = c.byNo.get(no);
    if (!field) {
      r.skip(wireType);
      continue;
    }
    const [name, type, repeated] = field;
    if (typeof type === "object") {
      if (wireType !== 2) throw protocolError(`wire type ${wireType} for message field ${name}`);
      const len = r.length();
      const value = decodeRange(type, buf, r.pos, r.pos + len, depth + 1);
      r.pos += len;
      if (repeated) pushRepeated(out, name, value);
      else out[name] = value;
      continue;
    }
    const varintField = isVarintType(type);
    if (repeated && varintField && wireType === 2) {
      // packed encoding
      const len = r.length();
      const inner = new Reader(buf, r.pos, r.pos + len);
      const arr = (out[name] as unknown[] | undefined) ?? [];
      while (inner.pos < inner.end) arr.push(readScalar(inner, type));
      out[name] = arr;
      r.pos += len;
      continue;
    }
    if ((varintField && wireType !== 0) || (!varintField && wireType !== 2)) {
      throw protocolError(`wire type ${wireType} for field ${name}`);
    }
    const value = readScalar(r, type);
    if (repeated) pushRepeated(out, name, value);
    else out[name] = value;
  }
  return out;
}

export function decode<S extends MsgSchema>(schema: S, buf: Uint8Array, start = 0, end: number = buf.length): Pb<S> {
  return decodeRange(schema, buf, start, end, 0) as Pb<S>;
}
