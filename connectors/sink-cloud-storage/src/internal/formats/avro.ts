import { createHash } from "node:crypto";
import zlib from "node:zlib";
import type { SinkRecord } from "@pulsar-connect/core";
import { snappyCompress, zstdCompress } from "../codecs.ts";
import {
  METADATA_FIELD,
  type MetadataOptions,
  metadataWithNulls,
  type ObjectFormat,
  RecordRefused,
  recordMetadata,
} from "./format.ts";
import { avroType, recordSchema, valueSchemaText } from "./schema.ts";

/** Upstream's `avroCodec` values this sink writes. */
export type AvroCodec = "null" | "deflate" | "snappy" | "zstandard";

export interface AvroRow {
  /** Writer schema of the object (rows of one object share it). */
  schema: string;
  datum: Uint8Array;
}

/** Avro's zig-zag varint of a long. */
function varint(value: number): Buffer {
  let n = BigInt(value);
  n = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const bytes: number[] = [];
  while (n > 0x7fn) {
    bytes.push(Number((n & 0x7fn) | 0x80n));
    n >>= 7n;
  }
  bytes.push(Number(n));
  return Buffer.from(bytes);
}

function avroBytes(data: Uint8Array): Buffer {
  return Buffer.concat([varint(data.length), data]);
}

function compressBlock(data: Buffer, codec: AvroCodec): Uint8Array {
  switch (codec) {
    case "deflate":
      return zlib.deflateRawSync(data);
    case "zstandard":
      return zstdCompress(data);
    case "snappy": {
      // Avro's snappy blocks end with the CRC32 of the uncompressed data.
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(zlib.crc32(data) >>> 0);
      return Buffer.concat([snappyCompress(data), crc]);
    }
    default:
      return data;
  }
}

const BLOCK_BYTES = 1 << 20;

/** An Avro object container file (the format of the Avro spec): header, then blocks of about 1 MiB. */
export function avroContainer(schema: string, datums: readonly Uint8Array[], codec: AvroCodec, seed: string): Buffer {
  // The sync marker comes from the object's name, so writing the same records again gives the same bytes.
  const sync = createHash("sha256").update(seed).digest().subarray(0, 16);
  const meta = [
    varint(2),
    avroBytes(Buffer.from("avro.schema")),
    avroBytes(Buffer.from(schema)),
    avroBytes(Buffer.from("avro.codec")),
    avroBytes(Buffer.from(codec)),
    varint(0),
  ];
  const parts: Uint8Array[] = [Buffer.from("Obj\x01", "latin1"), ...meta, sync];
  let block: Uint8Array[] = [];
  let blockBytes = 0;
  const flush = () => {
    if (block.length === 0) return;
    const data = compressBlock(Buffer.concat(block), codec);
    parts.push(varint(block.length), varint(data.length), data, sync);
    block = [];
    blockBytes = 0;
  };
  for (const datum of datums) {
    block.push(datum);
    blockBytes += datum.length;
    if (blockBytes >= BLOCK_BYTES) flush();
  }
  flush();
  return Buffer.concat(parts);
}

/** Avro container files with the topic's schema (plus the metadata field when asked). */
export function avroFormat(options: MetadataOptions & { codec: AvroCodec }): ObjectFormat<AvroRow> {
  return {
    extension: ".avro",
    row(record: SinkRecord) {
      const text = valueSchemaText(record, "avro");
      // An AVRO payload already is the datum of its writer schema.
      if (!options.withMetadata && record.schema?.type === "AVRO") return { schema: text, datum: record.data };
      const schema = recordSchema(text, options.withMetadata);
      const value = record.value;
      if (value === null || typeof value !== "object" || value instanceof Uint8Array) {
        throw new RecordRefused("the value is not a record");
      }
      const datum = options.withMetadata
        ? {
            ...(value as Record<string, unknown>),
            [METADATA_FIELD]: metadataWithNulls(recordMetadata(record, options)),
          }
        : value;
      try {
        return { schema: JSON.stringify(schema), datum: avroType(schema).toBuffer(datum) };
      } catch (error) {
        throw new RecordRefused(`the value does not match the topic schema: ${(error as Error).message}`);
      }
    },
    groupKey: (row) => row.schema,
    encode(rows, seed) {
      return avroContainer(
        rows[0]?.schema ?? '"null"',
        rows.map((row) => row.datum),
        options.codec,
        seed,
      );
    },
  };
}
