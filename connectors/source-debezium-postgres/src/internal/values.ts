/**
 * Column values from PostgreSQL's text output to the JSON values Debezium's PostgreSQL connector produces for the
 * same column types (its default converters: precise decimals, adaptive time precision, bytes as base64).
 * The sessions that produce the text run with DateStyle=ISO, TimeZone=UTC and IntervalStyle=iso_8601.
 */

export type DecimalHandling = "precise" | "double" | "string";
export type TimePrecision = "adaptive" | "adaptive_time_microseconds" | "connect";
export type BinaryHandling = "bytes" | "base64" | "base64-url-safe" | "hex";

export interface ValueOptions {
  decimal: DecimalHandling;
  time: TimePrecision;
  binary: BinaryHandling;
}

/** Session settings under which the conversions below read the server's text output. */
export const SESSION_OPTIONS =
  "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex";

/** JSON text kept exactly as written (64-bit integers beyond 2^53 survive JSON.stringify this way). */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

const OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Array type oid -> element type oid, for the array types with a known element conversion. */
const ARRAY_ELEMENT: Readonly<Record<number, number>> = {
  1000: OID.bool,
  1001: OID.bytea,
  1005: OID.int2,
  1007: OID.int4,
  1016: OID.int8,
  1021: OID.float4,
  1022: OID.float8,
  1231: OID.numeric,
  199: OID.json,
  3807: OID.jsonb,
  1182: OID.date,
  1183: OID.time,
  1115: OID.timestamp,
  1185: OID.timestamptz,
  1187: OID.interval,
  1270: OID.timetz,
  1009: 25,
  1015: 1043,
  1014: 1042,
  2951: 2950,
  1002: OID.char,
};

/** Whether `typeOid` is an array type whose text form this module parses. */
export function isArrayType(typeOid: number): boolean {
  return typeOid in ARRAY_ELEMENT;
}

/** Scale of a numeric column from its type modifier, or undefined when the column has none (variable scale). */
export function numericScale(typeModifier: number): number | undefined {
  return typeModifier < 4 ? undefined : (typeModifier - 4) & 0xffff;
}

/** Fractional-second precision of a time/timestamp column (6 when unspecified). */
function timePrecision(typeModifier: number): number {
  return typeModifier < 0 ? 6 : typeModifier;
}

/**
 * The Avro type that describes what {@link convertValue} makes of a column (the field types of the topic schema):
 * the JSON number kinds by their width, bytes for base64-encoded binary and precise decimals, text otherwise.
 */
export function avroTypeOf(typeOid: number, typeModifier: number, options: ValueOptions): unknown {
  const element = ARRAY_ELEMENT[typeOid];
  if (element !== undefined) return { type: "array", items: ["null", avroTypeOf(element, -1, options)] };
  switch (typeOid) {
    case OID.bool:
      return "boolean";
    case OID.int2:
    case OID.int4:
    case OID.date:
      return "int";
    case OID.int8:
    case OID.oid:
    case OID.timestamp:
    case OID.interval:
      return "long";
    case OID.float4:
      return "float";
    case OID.float8:
      return "double";
    case OID.numeric:
      return options.decimal === "double" ? "double" : options.decimal === "string" ? "string" : "bytes";
    case OID.bytea:
      return options.binary === "bytes" ? "bytes" : "string";
    case OID.time:
      return options.time === "connect" || (options.time === "adaptive" && timePrecision(typeModifier) <= 3)
        ? "int"
        : "long";
    default:
      return "string";
  }
}

/** Converts one column's text value. `typeModifier` is the column's atttypmod. */
export function convertValue(text: string, typeOid: number, typeModifier: number, options: ValueOptions): unknown {
  const element = ARRAY_ELEMENT[typeOid];
  if (element !== undefined) {
    return mapArray(parseArray(text), (item) => (item === null ? null : convertValue(item, element, -1, options)));
  }
  switch (typeOid) {
    case OID.bool:
      return text === "t" || text === "true";
    case OID.int2:
    case OID.int4:
    case OID.oid:
      return Number(text);
    case OID.int8:
      return rawJson(text);
    case OID.float4:
    case OID.float8: {
      const value = Number(text);
      return Number.isFinite(value) ? value : text;
    }
    case OID.numeric:
      return convertNumeric(text, numericScale(typeModifier), options.decimal);
    case OID.bytea:
      return convertBytes(text, options.binary);
    case OID.date:
      return convertDate(text);
    case OID.time:
      return convertTime(text, timePrecision(typeModifier), options.time);
    case OID.timetz:
      return convertTimeTz(text);
    case OID.timestamp:
      return convertTimestamp(text, timePrecision(typeModifier), options.time);
    case OID.timestamptz:
      return convertTimestampTz(text);
    case OID.interval:
      return convertInterval(text);
    default:
      // text, varchar, char, uuid, json, jsonb, xml, enums and anything else: the text itself.
      return text;
  }
}

// ------------------------------------------------------------------------------------------------ numbers

function convertNumeric(text: string, scale: number | undefined, mode: DecimalHandling): unknown {
  if (mode === "string") return text;
  if (mode === "double") {
    const value = Number(text);
    return Number.isFinite(value) ? value : text;
  }
  if (text === "NaN" || text.endsWith("Infinity")) return null;
  const [whole = "0", fraction = ""] = text.replace(/^-/, "").split(".");
  const negative = text.startsWith("-");
  const unscaled = BigInt(`${negative ? "-" : ""}${whole}${fraction}`);
  const bytes = twosComplement(unscaled);
  if (scale !== undefined) return bytes.toString("base64");
  return { scale: fraction.length, value: bytes.toString("base64") };
}

/** Big-endian two's complement bytes of `value`, as Java's BigInteger.toByteArray gives them. */
export function twosComplement(value: bigint): Buffer {
  let hex: string;
  if (value >= 0n) {
    hex = value.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  } else {
    let bytes = 1;
    while (-value > 1n << BigInt(bytes * 8 - 1)) bytes += 1;
    hex = ((1n << BigInt(bytes * 8)) + value).toString(16).padStart(bytes * 2, "0");
  }
  return Buffer.from(hex, "hex");
}

function convertBytes(text: string, mode: BinaryHandling): string {
  const bytes = text.startsWith("\\x") ? Buffer.from(text.slice(2), "hex") : Buffer.from(text, "utf8");
  if (mode === "hex") return bytes.toString("hex");
  if (mode === "base64-url-safe") return bytes.toString("base64url");
  return bytes.toString("base64");
}

// ------------------------------------------------------------------------------------------- dates, times

const MS_PER_DAY = 86_400_000;

function convertDate(text: string): unknown {
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isNaN(ms) ? text : Math.round(ms / MS_PER_DAY);
}

/** `HH:MM:SS[.ffffff]` to microseconds since midnight. */
function timeMicros(text: string): bigint | undefined {
  const match = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text);
  if (!match) return undefined;
  const [, h, m, s, f = ""] = match;
  const seconds = BigInt(Number(h) * 3600 + Number(m) * 60 + Number(s));
  return seconds * 1_000_000n + BigInt(f.padEnd(6, "0"));
}

function convertTime(text: string, precision: number, mode: TimePrecision): unknown {
  const micros = timeMicros(text);
  if (micros === undefined) return text;
  if (mode === "connect" || (mode === "adaptive" && precision <= 3)) return Number(micros / 1000n);
  return Number(micros);
}

function convertTimeTz(text: string): unknown {
  const match = /^(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(text);
  if (!match) return text;
  const micros = timeMicros(match[1] as string);
  if (micros === undefined) return text;
  const sign = match[2]?.startsWith("-") ? -1n : 1n;
  const offsetSeconds =
    BigInt(Math.abs(Number(match[2])) * 3600 + Number(match[3] ?? 0) * 60 + Number(match[4] ?? 0)) * sign;
  const day = 86_400_000_000n;
  const utc = (((micros - offsetSeconds * 1_000_000n) % day) + day) % day;
  return `${formatClock(utc)}Z`;
}

function formatClock(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  const h = String(seconds / 3600n).padStart(2, "0");
  const m = String((seconds / 60n) % 60n).padStart(2, "0");
  const s = String(seconds % 60n).padStart(2, "0");
  return `${h}:${m}:${s}${fraction ? `.${fraction}` : ""}`;
}

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` (read as UTC) to microseconds since the epoch. */
function timestampMicros(text: string): bigint | undefined {
  const match = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, clock, f = ""] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  const day = timeMicros(clock as string);
  if (Number.isNaN(ms) || day === undefined) return undefined;
  return BigInt(ms) * 1000n + day + BigInt(f.padEnd(6, "0"));
}

function convertTimestamp(text: string, precision: number, mode: TimePrecision): unknown {
  const micros = timestampMicros(text);
  if (micros === undefined) return text;
  if (mode === "connect" || precision <= 3) return Number(micros / 1000n);
  return Number(micros);
}

/** Debezium's ZonedTimestamp: ISO-8601 in UTC, fraction without trailing zeros. */
function convertTimestampTz(text: string): unknown {
  const match = /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([+-]\d{2})(?::(\d{2}))?(?::(\d{2}))?$/.exec(
    text,
  );
  if (!match) return text;
  const [, date, clock, fraction = "", hours = "+00", minutes = "00", seconds = "00"] = match;
  const digits = fraction.replace(/0+$/, "");
  // The sessions run with TimeZone=UTC, so the server's text is already in UTC: no date arithmetic needed.
  if (hours === "+00" && minutes === "00" && seconds === "00") return `${date}T${clock}${digits ? `.${digits}` : ""}Z`;
  const sign = hours.startsWith("-") ? -1 : 1;
  const offsetMs = sign * (Math.abs(Number(hours)) * 3_600_000 + Number(minutes) * 60_000 + Number(seconds) * 1000);
  const ms = Date.parse(`${date}T${clock}Z`) - offsetMs;
  if (Number.isNaN(ms)) return text;
  const iso = new Date(ms).toISOString().slice(0, 19);
  return `${iso}${digits ? `.${digits}` : ""}Z`;
}

/** Debezium's MicroDuration (interval.handling.mode=numeric): months count 30.4375 days. */
function convertInterval(text: string): unknown {
  const match =
    /^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?\d+(?:\.\d+)?)S)?)?$/.exec(text);
  if (!match) return text;
  const [, y = "0", mo = "0", d = "0", h = "0", mi = "0", s = "0"] = match;
  const days = Number(y) * 365.25 + Number(mo) * 30.4375 + Number(d);
  const micros = days * 86_400_000_000 + Number(h) * 3_600_000_000 + Number(mi) * 60_000_000 + Number(s) * 1_000_000;
  return Math.round(micros);
}

// ------------------------------------------------------------------------------------------------- arrays

export type ArrayItem = string | null | ArrayItem[];

/** Parses PostgreSQL's array text form (`{1,2,NULL,"a,b",{3}}`; an optional `[1:2]=` bounds prefix is skipped). */
export function parseArray(text: string): ArrayItem[] {
  let position = text.startsWith("[") ? text.indexOf("=") + 1 : 0;
  const parseLevel = (): ArrayItem[] => {
    if (text[position] !== "{") throw new Error(`not an array literal: ${text}`);
    position += 1;
    const items: ArrayItem[] = [];
    if (text[position] === "}") {
      position += 1;
      return items;
    }
    for (;;) {
      const char = text[position];
      if (char === "{") items.push(parseLevel());
      else if (char === '"') {
        position += 1;
        let value = "";
        while (position < text.length && text[position] !== '"') {
          if (text[position] === "\\") position += 1;
          value += text[position];
          position += 1;
        }
        position += 1;
        items.push(value);
      } else {
        let end = position;
        while (end < text.length && text[end] !== "," && text[end] !== "}") end += 1;
        const raw = text.slice(position, end);
        items.push(raw === "NULL" ? null : raw);
        position = end;
      }
      const separator = text[position];
      position += 1;
      if (separator === "}") return items;
      if (separator !== ",") throw new Error(`not an array literal: ${text}`);
    }
  };
  return parseLevel();
}

function mapArray(items: ArrayItem[], convert: (item: string | null) => unknown): unknown[] {
  return items.map((item) => (Array.isArray(item) ? mapArray(item, convert) : convert(item)));
}
