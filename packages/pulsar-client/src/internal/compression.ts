// Payload codecs with the wire formats of the Java/Go/C++ clients: raw LZ4 block, zlib-wrapped deflate, zstd frame,
// raw Snappy block. The decoder needs `uncompressed_size` from the metadata.
import { createRequire } from "node:module";
import zlib from "node:zlib";
import { PulsarClientError } from "../errors.ts";
import { lz4Compress, lz4Decompress } from "./lz4.ts";

export type CompressionType = "NONE" | "LZ4" | "ZLIB" | "ZSTD" | "SNAPPY";
export const COMPRESSION_CODES: Record<CompressionType, number> = { NONE: 0, LZ4: 1, ZLIB: 2, ZSTD: 3, SNAPPY: 4 };
const COMPRESSION_NAMES: CompressionType[] = ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"];

interface SnappyModule {
  compress(src: Uint8Array): Uint8Array;
  uncompress(src: Uint8Array, maxLength?: number): Uint8Array;
}

const require = createRequire(import.meta.url);
let snappy: SnappyModule | undefined;
function snappyModule(): SnappyModule {
  snappy ??= require("snappyjs") as SnappyModule;
  return snappy;
}

type ZstdZlib = {
  zstdCompressSync(buf: Uint8Array): Buffer;
  zstdDecompressSync(buf: Uint8Array, options?: { maxOutputLength?: number }): Buffer;
};
const zstd = zlib as unknown as Partial<ZstdZlib>;
const ZSTD_MISSING = `ZSTD needs a Node.js whose zlib has zstd (22.15 or later, 23.8 or later); this is Node.js ${process.version}`;

export function compressionName(code: number | undefined): CompressionType | undefined {
  return COMPRESSION_NAMES[code ?? 0];
}

/** Why this Node.js cannot use a codec (naming its version), or undefined when it can. */
export function compressionUnavailable(type: CompressionType): string | undefined {
  if (type === "ZSTD" && (typeof zstd.zstdCompressSync !== "function" || typeof zstd.zstdDecompressSync !== "function"))
    return ZSTD_MISSING;
  return undefined;
}

export function compress(type: CompressionType, data: Uint8Array): Buffer {
  switch (type) {
    case "NONE":
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case "LZ4":
      return lz4Compress(data);
    case "ZLIB":
      return zlib.deflateSync(data);
    case "ZSTD":
      if (!zstd.zstdCompressSync) throw new PulsarClientError("COMPRESSION", ZSTD_MISSING);
      return zstd.zstdCompressSync(data);
    case "SNAPPY": {
      const out = snappyModule().compress(data);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
  }
}

export function decompress(type: CompressionType, data: Uint8Array, uncompressedSize: number): Buffer {
  try {
    let out: Buffer;
    switch (type) {
      case "NONE":
        return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      case "LZ4":
        return lz4Decompress(data, uncompressedSize);
      case "ZLIB":
        // The Java client ends its deflate stream with a sync flush instead of a final block.
        out = zlib.inflateSync(data, {
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
          maxOutputLength: Math.max(uncompressedSize, 1),
        });
        break;
      case "ZSTD":
        if (!zstd.zstdDecompressSync) throw new Error(ZSTD_MISSING);
        out = zstd.zstdDecompressSync(data, { maxOutputLength: Math.max(uncompressedSize, 1) });
        break;
      case "SNAPPY": {
        const u = snappyModule().uncompress(data, uncompressedSize);
        out = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
        break;
      }
    }
    if (out.length !== uncompressedSize) {
      throw new Error(`${type} produced ${out.length} bytes, expected ${uncompressedSize}`);
    }
    return out;
  } catch (err) {
    if (err instanceof PulsarClientError) throw err;
    throw new PulsarClientError("COMPRESSION", `cannot decompress ${type} payload`, { cause: err });
  }
}
