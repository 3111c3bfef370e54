import type { SinkRecord } from "@pulsar-connect/core";
import { compressObject, OBJECT_COMPRESSION_EXTENSION, type ObjectCompression } from "../codecs.ts";
import type { ObjectFormat } from "./format.ts";

/** Upstream's `bytesFormatTypeSeparator`: a hex string starting with 0x ("0x10"); undefined when malformed. */
export function parseSeparator(text: string): Uint8Array | undefined {
  const match = /^0x((?:[0-9a-f]{2})+|[0-9a-f])$/i.exec(text);
  if (!match) return undefined;
  const hex = (match[1] as string).length % 2 === 1 ? `0${match[1]}` : (match[1] as string);
  return Buffer.from(hex, "hex");
}

/** The raw payloads, separator between them (upstream's bytes format). */
export function bytesFormat(options: {
  separator: Uint8Array;
  compression: ObjectCompression;
}): ObjectFormat<Uint8Array> {
  return {
    extension: `.bin${OBJECT_COMPRESSION_EXTENSION[options.compression]}`,
    row: (record: SinkRecord) => record.data,
    groupKey: () => "",
    encode(rows) {
      const parts: Uint8Array[] = [];
      rows.forEach((row, index) => {
        if (index > 0) parts.push(options.separator);
        parts.push(row);
      });
      return compressObject(Buffer.concat(parts), options.compression);
    },
  };
}
