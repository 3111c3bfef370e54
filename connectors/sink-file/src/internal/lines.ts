import { ConnectorError, type SinkRecord } from "@pulsar-connect/core";

const json = (value: unknown) =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v,
  );

/** The line (with its \n) that stands for a record, or why the record cannot be one line. */
export function recordLine(record: SinkRecord, format: "json" | "string"): Buffer | ConnectorError {
  const payload = Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength);
  if (format === "string") {
    if (payload.includes(0x0a) || payload.includes(0x0d)) {
      return new ConnectorError(
        "INVALID_RECORD",
        "the value has a line break (format string writes one line per record)",
        {
          retryable: false,
        },
      );
    }
    return Buffer.concat([payload, Buffer.from("\n")]);
  }
  let value = record.value;
  if (value instanceof Uint8Array) {
    // Bytes are written as the JSON they hold (on one line), or refused when they hold none; text values (a STRING
    // schema) become JSON strings.
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch {
      return new ConnectorError("INVALID_RECORD", "the value is not JSON (format json)", { retryable: false });
    }
  }
  const text = json(value);
  if (text === undefined)
    return new ConnectorError("INVALID_RECORD", "the value has no JSON form", { retryable: false });
  return Buffer.from(`${text}\n`);
}
