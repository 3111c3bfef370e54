import type { BulkRows } from "@pulsar-connect/jdbc-common";

/** Fewer rows than this go through the statement: COPY costs one more round trip before its data. */
export const COPY_MIN_ROWS = 64;

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const PG_EPOCH_MS = 946_684_800_000;
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const DECIMAL_INTEGER = /^-?\d{1,19}$/;
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
const CHUNK_BYTES = 1 << 20;

/**
 * Writes one value in its binary COPY form; returns false, having written nothing, when the value is not one this
 * encoder turns into exactly what the text parameter of the statement would have stored. The caller then uses the
 * statement, so the database alone decides what a value means.
 */
type Encoder = (out: BinaryRows, value: unknown) => boolean;

const encoders: ReadonlyMap<string, Encoder> = new Map<string, Encoder>([
  ["smallint", (out, value) => integer(out, value, 2)],
  ["integer", (out, value) => integer(out, value, 4)],
  ["bigint", (out, value) => bigint(out, value)],
  [
    "real",
    // Only values a float4 holds exactly: the text path rounds the decimal, this one the double.
    (out, value) => typeof value === "number" && Math.fround(value) === value && out.float4(value),
  ],
  [
    "double precision",
    // -0 is written as 0, as its text "0" is.
    (out, value) => typeof value === "number" && out.float8(Object.is(value, -0) ? 0 : value),
  ],
  ["boolean", (out, value) => typeof value === "boolean" && out.byte(value ? 1 : 0)],
  ["text", text],
  ["character varying", text],
  ["character", text],
  ["json", (out, value) => typeof value === "string" && out.text(value)],
  ["jsonb", (out, value) => typeof value === "string" && out.text(value, 1)],
  ["bytea", (out, value) => Buffer.isBuffer(value) && out.bytes(value)],
  ["uuid", (out, value) => typeof value === "string" && CANONICAL_UUID.test(value) && out.uuid(value)],
  [
    "timestamp with time zone",
    (out, value) =>
      value instanceof Date &&
      !Number.isNaN(value.getTime()) &&
      out.int64(BigInt(value.getTime() - PG_EPOCH_MS) * 1000n),
  ],
]);

function integer(out: BinaryRows, value: unknown, bytes: 2 | 4): boolean {
  const limit = bytes === 2 ? 0x8000 : 0x8000_0000;
  let number: number;
  if (typeof value === "number") number = value;
  else if (typeof value === "string" && DECIMAL_INTEGER.test(value)) number = Number(value);
  else return false;
  if (!Number.isInteger(number) || number < -limit || number >= limit) return false;
  return bytes === 2 ? out.int16(number) : out.int32(number);
}

function bigint(out: BinaryRows, value: unknown): boolean {
  let number: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return false;
    // A safe integer goes as two 32-bit halves, without a BigInt per value.
    if (Number.isSafeInteger(value)) return out.int64FromSafeInteger(value);
    number = BigInt(value);
  } else if (typeof value === "string" && DECIMAL_INTEGER.test(value)) number = BigInt(value);
  else return false;
  return number >= INT8_MIN && number <= INT8_MAX && out.int64(number);
}

/** Strings as they are; numbers and booleans as the text the driver sends for them. */
function text(out: BinaryRows, value: unknown): boolean {
  if (typeof value === "string") return out.text(value);
  if (typeof value === "number" || typeof value === "boolean") return out.text(String(value));
  return false;
}

/** The encoder of a column type as `format_type` names it (modifiers such as `(20)` ignored). */
export function encoderFor(type: string): Encoder | undefined {
  return encoders.get(type.replace(/\(\d+(,\s*\d+)?\)/g, "").trim());
}

/** Rows in the binary COPY format, built into 1 MB chunks. */
export class BinaryRows {
  readonly chunks: Buffer[] = [];
  private buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private offset = 0;

  constructor() {
    HEADER.copy(this.buffer, 0);
    this.offset = HEADER.length;
  }

  /** Starts a row of `fields` fields. */
  row(fields: number): void {
    this.reserve(2);
    this.buffer.writeInt16BE(fields, this.offset);
    this.offset += 2;
  }

  null(): void {
    this.reserve(4);
    this.buffer.writeInt32BE(-1, this.offset);
    this.offset += 4;
  }

  byte(value: number): true {
    this.field(1);
    this.buffer[this.offset++] = value;
    return true;
  }

  int16(value: number): true {
    this.field(2);
    this.offset = this.buffer.writeInt16BE(value, this.offset);
    return true;
  }

  int32(value: number): true {
    this.field(4);
    this.offset = this.buffer.writeInt32BE(value, this.offset);
    return true;
  }

  int64(value: bigint): true {
    this.field(8);
    this.offset = this.buffer.writeBigInt64BE(value, this.offset);
    return true;
  }

  int64FromSafeInteger(value: number): true {
    this.field(8);
    const high = Math.floor(value / 0x1_0000_0000);
    this.buffer.writeInt32BE(high, this.offset);
    this.buffer.writeUInt32BE(value - high * 0x1_0000_0000, this.offset + 4);
    this.offset += 8;
    return true;
  }

  float4(value: number): true {
    this.field(4);
    this.offset = this.buffer.writeFloatBE(value, this.offset);
    return true;
  }

  float8(value: number): true {
    this.field(8);
    this.offset = this.buffer.writeDoubleBE(value, this.offset);
    return true;
  }

  /** UTF-8 text, after a version byte when given (jsonb). */
  text(value: string, version?: number): true {
    const most = value.length * 3 + (version === undefined ? 0 : 1);
    this.reserve(4 + most);
    const start = this.offset;
    this.offset += 4;
    if (version !== undefined) this.buffer[this.offset++] = version;
    // Short ASCII text byte by byte: cheaper than a call into the UTF-8 encoder per value.
    let ascii = value.length <= 64;
    if (ascii) {
      const buffer = this.buffer;
      let at = this.offset;
      for (let i = 0; i < value.length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) {
          ascii = false;
          break;
        }
        buffer[at++] = code;
      }
      if (ascii) this.offset = at;
    }
    if (!ascii) this.offset += this.buffer.write(value, this.offset, "utf8");
    this.buffer.writeInt32BE(this.offset - start - 4, start);
    return true;
  }

  bytes(value: Buffer): true {
    this.field(value.length);
    this.offset += value.copy(this.buffer, this.offset);
    return true;
  }

  uuid(value: string): true {
    this.field(16);
    this.offset += this.buffer.write(value.replaceAll("-", ""), this.offset, "hex");
    return true;
  }

  /** Ends the data: the trailer, and the chunks to send. */
  finish(): Buffer[] {
    this.reserve(2);
    this.buffer.writeInt16BE(-1, this.offset);
    this.offset += 2;
    this.chunks.push(this.buffer.subarray(0, this.offset));
    return this.chunks;
  }

  private field(length: number): void {
    this.reserve(4 + length);
    this.buffer.writeInt32BE(length, this.offset);
    this.offset += 4;
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    if (this.offset > 0) this.chunks.push(this.buffer.subarray(0, this.offset));
    this.buffer = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.offset = 0;
  }
}

/**
 * The binary COPY data of `rows`, or undefined when a column type or a value has no encoder that stores exactly
 * what the statement would.
 */
export function encodeBinaryRows(rows: BulkRows): Buffer[] | undefined {
  const columnEncoders: Encoder[] = [];
  for (const type of rows.types) {
    const encoder = encoderFor(type);
    if (encoder === undefined) return undefined;
    columnEncoders.push(encoder);
  }
  const out = new BinaryRows();
  const width = columnEncoders.length;
  for (const values of rows.values) {
    out.row(width);
    for (let column = 0; column < width; column++) {
      const value = values[column];
      if (value === null || value === undefined) out.null();
      else if (!(columnEncoders[column] as Encoder)(out, value)) return undefined;
    }
  }
  return out.finish();
}

/** Largest CopyData message sent; the server takes up to 1 GB, smaller ones keep the socket writes even. */
const MESSAGE_BYTES = 1 << 20;

/** What node-postgres hands a submitted query; only the methods used here. */
interface WireConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/**
 * A simple-protocol query whose COPY ... FROM STDIN reads `data`, given to `pg.Client#query`. The query text may hold
 * more statements after the COPY; it settles when the server is ready for the next query, or on the first error.
 */
export class CopyFromStdin {
  readonly done: Promise<void>;
  private readonly text: string;
  private readonly data: readonly Buffer[];
  private settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(text: string, data: readonly Buffer[]) {
    this.text = text;
    this.data = data;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  submit(connection: Pick<WireConnection, "query">): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: WireConnection): void {
    for (const chunk of this.data) {
      for (let start = 0; start < chunk.length; start += MESSAGE_BYTES) {
        connection.sendCopyFromChunk(chunk.subarray(start, start + MESSAGE_BYTES));
      }
    }
    connection.endCopyFrom();
  }

  handleReadyForQuery(): void {
    this.settle?.resolve();
    this.settle = undefined;
  }

  handleError(error: unknown): void {
    this.settle?.reject(error);
    this.settle = undefined;
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}
