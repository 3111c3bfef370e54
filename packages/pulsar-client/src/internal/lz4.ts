// LZ4 block format (no frame): the payload format of Pulsar's LZ4 compression. The writer keeps the format's
// end-of-block rules that strict decoders (the Java client's aircompressor) enforce: the last 5 bytes are literals,
// the last match starts at least 12 bytes before the end, and a block ends with a literals-only sequence.

const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_DISTANCE = 65_535;
const HASH_LOG = 16;
const SKIP_TRIGGER = 6;

/** Largest block the writer can produce for `n` input bytes. */
export function lz4CompressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

let table: Int32Array | undefined;

function read32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

function hash(v: number): number {
  return Math.imul(v, -1640531535) >>> (32 - HASH_LOG);
}

function writeLength(dst: Uint8Array, op: number, rest: number): number {
  while (rest >= 255) {
    dst[op++] = 255;
    rest -= 255;
  }
  dst[op++] = rest;
  return op;
}

function copyLiterals(src: Uint8Array, from: number, to: number, dst: Uint8Array, op: number): number {
  const n = to - from;
  if (n < 32) {
    for (let i = 0; i < n; i++) dst[op + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, to), op);
  }
  return op + n;
}

/** Compresses `src` into `dst` (at least `lz4CompressBound(src.length)` bytes); returns the block's length. */
export function lz4CompressBlock(src: Uint8Array, dst: Uint8Array): number {
  const n = src.length;
  let op = 0;
  let anchor = 0;
  if (n >= MF_LIMIT + 1) {
    table ??= new Int32Array(1 << HASH_LOG);
    const t = table;
    t.fill(0);
    // A match may start at n - MF_LIMIT at the latest and must end 5 bytes before the end.
    const mflimitPlusOne = n - MF_LIMIT + 1;
    const matchLimit = n - LAST_LITERALS;
    let ip = 1;
    outer: for (;;) {
      let forward = ip;
      let step = 1;
      let attempts = 1 << SKIP_TRIGGER;
      let ref: number;
      for (;;) {
        ip = forward;
        forward += step;
        step = attempts++ >> SKIP_TRIGGER;
        if (forward > mflimitPlusOne) break outer;
        const seq = read32(src, ip);
        const h = hash(seq);
        ref = t[h]!;
        t[h] = ip;
        if (ref < ip && ip - ref <= MAX_DISTANCE && read32(src, ref) === seq) break;
      }
      while (ip > anchor && ref > 0 && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
      }
      const literals = ip - anchor;
      const token = op++;
      if (literals >= 15) {
        dst[token] = 0xf0;
        op = writeLength(dst, op, literals - 15);
      } else {
        dst[token] = literals << 4;
      }
      op = copyLiterals(src, anchor, ip, dst, op);
      const offset = ip - ref;
      dst[op++] = offset & 0xff;
      dst[op++] = offset >>> 8;
      let end = ip + MIN_MATCH;
      let r = ref + MIN_MATCH;
      while (end < matchLimit && src[end] === src[r]) {
        end++;
        r++;
      }
      const matchLength = end - ip - MIN_MATCH;
      if (matchLength >= 15) {
        dst[token] = dst[token]! | 0x0f;
        op = writeLength(dst, op, matchLength - 15);
      } else {
        dst[token] = dst[token]! | matchLength;
      }
      ip = end;
      anchor = ip;
      if (ip >= mflimitPlusOne) break;
    }
  }
  const literals = n - anchor;
  if (literals >= 15) {
    dst[op++] = 0xf0;
    op = writeLength(dst, op, literals - 15);
  } else {
    dst[op++] = literals << 4;
  }
  return copyLiterals(src, anchor, n, dst, op);
}

export function lz4Compress(src: Uint8Array): Buffer {
  const dst = Buffer.allocUnsafe(lz4CompressBound(src.length));
  return dst.subarray(0, lz4CompressBlock(src, dst));
}

export class Lz4FormatError extends Error {}

/**
 * Decodes one block into exactly `uncompressedSize` bytes. Refuses a block that would write past that size, reads
 * past its own end or refers before the start of the output.
 */
export function lz4Decompress(src: Uint8Array, uncompressedSize: number): Buffer {
  const dst = Buffer.allocUnsafe(uncompressedSize);
  const n = src.length;
  let ip = 0;
  let op = 0;
  while (ip < n) {
    const token = src[ip++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (ip >= n) throw new Lz4FormatError("truncated literal length");
        b = src[ip++]!;
        literals += b;
      } while (b === 255);
    }
    if (ip + literals > n) throw new Lz4FormatError("literals run past the end of the block");
    if (op + literals > uncompressedSize) throw new Lz4FormatError("output larger than the declared size");
    op = copyLiterals(src, ip, ip + literals, dst, op);
    ip += literals;
    if (ip === n) break;
    if (ip + 2 > n) throw new Lz4FormatError("truncated match offset");
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Lz4FormatError(`match offset ${offset} out of range`);
    let length = token & 0x0f;
    if (length === 15) {
      let b: number;
      do {
        if (ip >= n) throw new Lz4FormatError("truncated match length");
        b = src[ip++]!;
        length += b;
      } while (b === 255);
    }
    length += MIN_MATCH;
    if (op + length > uncompressedSize) throw new Lz4FormatError("output larger than the declared size");
    let ref = op - offset;
    if (offset >= length && length > 32) {
      dst.copyWithin(op, ref, ref + length);
      op += length;
    } else {
      const end = op + length;
      while (op < end) dst[op++] = dst[ref++]!;
    }
  }
  if (op !== uncompressedSize) {
    throw new Lz4FormatError(`block holds ${op} bytes, declared ${uncompressedSize}`);
  }
  return dst;
}
