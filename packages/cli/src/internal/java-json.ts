// The JSON that Apache Pulsar's Java pulsar-admin prints: the worker's answer read into the upstream Java class (so
// only its fields, in their declaration order, with Java number types) and written by Gson or Jackson pretty printers.

/** A Java field type, as far as it changes what is printed. */
export type JavaType =
  | "string"
  | "enum"
  | "boolean"
  /** A primitive boolean: printed even when absent, as false. */
  | "boolean!"
  | "int"
  | "int!"
  | "long"
  | "long!"
  | "double"
  /** `Object` read by Jackson: integral numbers become Integer/Long, others Double. */
  | "any"
  | { list: JavaType }
  | { map: JavaType }
  | { fields: JavaField[] };

/** A field: its name, type, and optionally the value its class gives it and the JSON name Jackson reads it from. */
export type JavaField = [
  name: string,
  type: JavaType,
  /** `always`: printed as null when absent, as a class annotated `@JsonInclude(ALWAYS)` does under Jackson. */
  options?: { initial?: unknown; jsonName?: string; always?: boolean },
];

const PRIMITIVE_DEFAULTS: Record<string, unknown> = { "boolean!": false, "int!": 0, "long!": 0 };

/** A number that Java holds as a Double (printed with a fraction or an exponent). */
class JavaDouble {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

type JavaValue = null | string | boolean | number | JavaDouble | JavaValue[] | Map<string, JavaValue>;

/** Reads `value` (parsed JSON) the way Jackson binds it to `type`; undefined = the field stays null. */
function bind(value: unknown, type: JavaType): JavaValue | undefined {
  if (typeof type === "string" && type in PRIMITIVE_DEFAULTS && (value === undefined || value === null)) {
    return PRIMITIVE_DEFAULTS[type] as JavaValue;
  }
  if (value === undefined || value === null) return undefined;
  if (typeof type === "object") {
    if ("list" in type) return Array.isArray(value) ? value.map((item) => bind(item, type.list) ?? null) : undefined;
    if (typeof value !== "object" || Array.isArray(value)) return undefined;
    const out = new Map<string, JavaValue>();
    if ("map" in type) {
      for (const [key, item] of Object.entries(value)) out.set(key, bind(item, type.map) ?? null);
      return out;
    }
    for (const [name, fieldType, options] of type.fields) {
      const json = (value as Record<string, unknown>)[options?.jsonName ?? name];
      const bound = bind(json === undefined ? options?.initial : json, fieldType);
      if (bound !== undefined) out.set(name, bound);
      else if (options?.always) out.set(name, null);
    }
    return out;
  }
  switch (type) {
    case "double":
      return typeof value === "number" ? new JavaDouble(value) : undefined;
    case "any":
      if (typeof value === "number") return Number.isInteger(value) ? value : new JavaDouble(value);
      if (Array.isArray(value)) return value.map((item) => bind(item, "any") ?? null);
      if (typeof value === "object") return bind(value, { map: "any" });
      return value as JavaValue;
    default:
      return value as JavaValue;
  }
}

/** Java's `Double.toString`: plain between 10^-3 and 10^7, else `d.dddE±n`; always a fraction digit. */
export function javaDouble(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const plain = String(value);
    return plain.includes(".") ? plain : `${plain}.0`;
  }
  const [mantissa = "", exponent = ""] = value.toExponential().split("e");
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${exponent.replace("+", "")}`;
}

function gsonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === "\b") out += "\\b";
    else if (char === "\f") out += "\\f";
    // Gson escapes these by default (HTML-safe output), and the line separators JavaScript cannot hold.
    else if (code < 0x20 || "<>&='".includes(char) || code === 0x2028 || code === 0x2029)
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

function jacksonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === "\b") out += "\\b";
    else if (char === "\f") out += "\\f";
    else if (code < 0x20) out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

function scalar(value: JavaValue, quote: (text: string) => string): string {
  if (value === null) return "null";
  if (value instanceof JavaDouble) return javaDouble(value.value);
  if (typeof value === "string") return quote(value);
  return String(value);
}

/** Gson's pretty printing (2 spaces, `"k": v`, one array element per line, null map entries left out). */
function gson(value: JavaValue, indent: string): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((item) => `${inner}${gson(item, inner)}`).join(",\n")}\n${indent}]`;
  }
  if (value instanceof Map) {
    const entries = [...value].filter(([, item]) => item !== null);
    if (entries.length === 0) return "{}";
    return `{\n${entries.map(([key, item]) => `${inner}${gsonString(key)}: ${gson(item, inner)}`).join(",\n")}\n${indent}}`;
  }
  return scalar(value, gsonString);
}

/** Jackson's default pretty printer (`"k" : v`, arrays inline with spaces, `{ }` and `[ ]` when empty). */
function jackson(value: JavaValue, indent: string): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    return `[ ${value.map((item) => jackson(item, indent)).join(", ")} ]`;
  }
  if (value instanceof Map) {
    if (value.size === 0) return "{ }";
    return `{\n${[...value].map(([key, item]) => `${inner}${jacksonString(key)} : ${jackson(item, inner)}`).join(",\n")}\n${indent}}`;
  }
  return scalar(value, jacksonString);
}

/** What `new GsonBuilder().setPrettyPrinting().create().toJson(...)` prints for `value` read as `type`. */
export function gsonPretty(value: unknown, type: JavaType): string {
  return gson(bind(value, type) ?? null, "");
}

/** What Jackson's `writerWithDefaultPrettyPrinter()` prints for `value` read as `type` (null fields left out). */
export function jacksonPretty(value: unknown, type: JavaType): string {
  return jackson(bind(value, type) ?? null, "");
}
