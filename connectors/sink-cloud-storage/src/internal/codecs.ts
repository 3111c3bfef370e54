// Byte codecs of the output files: whole-object compression (json, bytes), Avro block codecs, Parquet page codecs.
import { createRequire } from "node:module";
import zlib from "node:zlib";

type ZstdZlib = { zstdCompressSync(buf: Uint8Array): Buffer };
const zstd = zlib as unknown as Partial<ZstdZlib>;

/** Why this Node.js cannot write zstd (naming its version), or undefined when it can. */
export function zstdUnavailable(): string | undefined {
  return typeof zstd.zstdCompressSync === "function"
    ? undefined
    : `zstd needs a Node.js whose zlib has zstd (22.15 or later, 23.8 or later); this is Node.js ${process.version}`;
}

export function zstdCompress(data: Uint8Array): Buffer {
  const compress = zstd.zstdCompressSync;
  if (!compress) throw new Error(zstdUnavailable());
  return compress(data);
}

interface SnappyModule {
  compress(src: Uint8Array): Uint8Array;
}
const require = createRequire(import.meta.url);
let snappy: SnappyModule | undefined;

/** Raw Snappy block (no framing), as Avro and Parquet use it. */
export function snappyCompress(data: Uint8Array): Uint8Array {
  snappy ??= require("snappyjs") as SnappyModule;
  return snappy.compress(data);
}

/** Whole-object compression of json and bytes objects. */
export type ObjectCompression = "none" | "gzip" | "zstd";

export const OBJECT_COMPRESSION_EXTENSION: Record<ObjectCompression, string> = { none: "", gzip: ".gz", zstd: ".zst" };

export function compressObject(data: Uint8Array, compression: ObjectCompression): Uint8Array {
  if (compression === "gzip") return zlib.gzipSync(data);
  if (compression === "zstd") return zstdCompress(data);
  return data;
}
