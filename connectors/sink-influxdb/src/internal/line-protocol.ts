// InfluxDB 1.x line protocol: `measurement,tag=v field=1i,other="s" 1700000000000000000`.

/** A field value with its line-protocol type; integers are bigint so 64-bit values survive. */
export type FieldValue =
  | { type: "integer"; value: bigint }
  | { type: "float"; value: number }
  | { type: "boolean"; value: boolean }
  | { type: "string"; value: string };

export interface Point {
  measurement: string;
  tags: ReadonlyArray<readonly [string, string]>;
  fields: ReadonlyArray<readonly [string, FieldValue]>;
  /** Nanoseconds since the epoch. */
  timestamp: bigint;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Why `point` cannot be written, or undefined when it can. */
export function pointProblem(point: Point): string | undefined {
  if (point.measurement === "") return "the measurement is empty";
  const names: Array<[string, string]> = [
    ["measurement", point.measurement],
    ...point.tags.flatMap(
      ([key, value]): Array<[string, string]> => [
        [`tag key ${JSON.stringify(key)}`, key],
        [`tag ${JSON.stringify(key)}`, value],
      ],
    ),
    ...point.fields.map(([key]): [string, string] => [`field key ${JSON.stringify(key)}`, key]),
  ];
  for (const [what, text] of names) {
    // The protocol has no escape for line breaks outside string field values.
    if (/[\n\r]/.test(text)) return `${what} contains a line break`;
    // A trailing backslash would escape the separator that follows it.
    if (text.endsWith("\\")) return `${what} ends with a backslash`;
  }
  if (point.tags.some(([key]) => key === "")) return "a tag key is empty";
  if (point.fields.length === 0) return "the point has no field";
  for (const [key, field] of point.fields) {
    if (key === "") return "a field key is empty";
    if (field.type === "integer" && (field.value < INT64_MIN || field.value > INT64_MAX)) {
      return `field ${JSON.stringify(key)} is outside the 64-bit integer range`;
    }
    if (field.type === "float" && !Number.isFinite(field.value)) return `field ${JSON.stringify(key)} is not finite`;
  }
  return undefined;
}

const escapeMeasurement = (text: string) => text.replace(/[, ]/g, (c) => `\\${c}`);
const escapeKey = (text: string) => text.replace(/[,= ]/g, (c) => `\\${c}`);
const escapeString = (text: string) => text.replace(/["\\]/g, (c) => `\\${c}`);

function formatField(field: FieldValue): string {
  switch (field.type) {
    case "integer":
      return `${field.value}i`;
    case "float":
      // Integral floats are written without a suffix, which the protocol reads as a float.
      return String(field.value);
    case "boolean":
      return field.value ? "true" : "false";
    case "string":
      return `"${escapeString(field.value)}"`;
  }
}

/** One line (without the newline) for a point that {@link pointProblem} accepts. */
export function formatPoint(point: Point): string {
  // Tags sorted by key, as the server stores them; empty tag values are left out (InfluxDB has no empty tag).
  const tags = point.tags
    .filter(([, value]) => value !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `,${escapeKey(key)}=${escapeKey(value)}`)
    .join("");
  const fields = point.fields.map(([key, value]) => `${escapeKey(key)}=${formatField(value)}`).join(",");
  return `${escapeMeasurement(point.measurement)}${tags} ${fields} ${point.timestamp}`;
}
