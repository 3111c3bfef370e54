import { compressObject, OBJECT_COMPRESSION_EXTENSION, type ObjectCompression } from "../codecs.ts";
import {
  jsonSafe,
  jsonValue,
  METADATA_FIELD,
  type MetadataOptions,
  type ObjectFormat,
  RecordRefused,
  recordMetadata,
} from "./format.ts";

const NON_FINITE = /"\\u0000(NaN|Infinity|-Infinity)\\u0000"/g;

function stringify(value: unknown, allowNaN: boolean): string {
  return JSON.stringify(value, function (this: unknown, key: string, raw: unknown) {
    const item = jsonSafe.call(this, key, raw);
    if (typeof item === "number" && !Number.isFinite(item)) {
      if (!allowNaN) throw new RecordRefused(`the value holds ${item}, which JSON cannot write (see jsonAllowNaN)`);
      return `\u0000${item}\u0000`;
    }
    return item;
  });
}

/** JSON lines: one value per line (upstream's json format), optionally gzip/zstd compressed as a whole. */
export function jsonFormat(
  options: MetadataOptions & { jsonAllowNaN: boolean; compression: ObjectCompression },
): ObjectFormat<string> {
  return {
    extension: `.json${OBJECT_COMPRESSION_EXTENSION[options.compression]}`,
    row(record) {
      let value = jsonValue(record);
      if (options.withMetadata) {
        const metadata = recordMetadata(record, options);
        value =
          value !== null && typeof value === "object" && !Array.isArray(value)
            ? { ...value, [METADATA_FIELD]: metadata }
            : { value, [METADATA_FIELD]: metadata };
      }
      const line = stringify(value, options.jsonAllowNaN);
      return options.jsonAllowNaN ? line.replace(NON_FINITE, "$1") : line;
    },
    groupKey: () => "",
    encode(rows) {
      return compressObject(Buffer.from(rows.length > 0 ? `${rows.join("\n")}\n` : "", "utf8"), options.compression);
    },
  };
}
