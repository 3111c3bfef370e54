import type { FunctionRecord } from "@pulsar-connect/core";
import type { ComputedField, ComputeType, Step } from "./config.ts";
import { compileCondition, compileExpression, type Expression, type ExpressionScope } from "./expression.ts";

type Structured = Record<string, unknown>;

function isStructured(value: unknown): value is Structured {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The key as structured data, when it is the JSON text of an object; undefined otherwise. */
function parsedKey(key: string | undefined): Structured | undefined {
  if (key === undefined || !key.trimStart().startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(key);
    return isStructured(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A record on its way through the steps; the key is kept parsed while steps work on it. */
class Working {
  value: unknown;
  key: string | undefined;
  properties: Record<string, string>;
  destinationTopic: string | undefined;
  readonly record: FunctionRecord;
  private keyObject: Structured | undefined;
  private keyParsed = false;

  constructor(record: FunctionRecord) {
    this.record = record;
    this.value = record.value;
    this.key = record.key;
    this.properties = record.properties;
    this.destinationTopic = record.destinationTopic;
  }

  structuredKey(): Structured | undefined {
    if (!this.keyParsed) {
      this.keyObject = parsedKey(this.key);
      this.keyParsed = true;
    }
    return this.keyObject;
  }

  setStructuredKey(key: Structured): void {
    this.keyObject = key;
    this.keyParsed = true;
    this.key = JSON.stringify(key);
  }

  setKey(key: string | undefined): void {
    this.key = key;
    this.keyParsed = false;
  }

  /** The parts a step with `part` applies to: each structured one, with a way to replace it. */
  parts(part: "key" | "value" | undefined): Array<{ data: Structured; replace: (data: unknown) => void }> {
    const out: Array<{ data: Structured; replace: (data: unknown) => void }> = [];
    if (part !== "value") {
      const key = this.structuredKey();
      if (key !== undefined) {
        out.push({
          data: key,
          replace: (data) => {
            if (isStructured(data)) this.setStructuredKey(data);
            else this.setKey(typeof data === "string" ? data : JSON.stringify(data));
          },
        });
      }
    }
    if (part !== "key" && isStructured(this.value)) {
      out.push({
        data: this.value,
        replace: (data) => {
          this.value = data;
        },
      });
    }
    return out;
  }

  scope(): ExpressionScope {
    return {
      value: this.value,
      key: this.structuredKey() ?? this.key,
      messageKey: this.key,
      properties: this.properties,
      topicName: this.record.topicName,
      destinationTopic: this.destinationTopic,
      eventTime: this.record.eventTime,
    };
  }

  result(): FunctionRecord {
    const out: FunctionRecord = { ...this.record, value: this.value, properties: this.properties };
    out.key = this.key;
    out.destinationTopic = this.destinationTopic;
    return out;
  }
}

function dropFields(working: Working, fields: string, part: "key" | "value" | undefined): void {
  const names = fields
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const { data, replace } of working.parts(part)) {
    const kept = Object.fromEntries(Object.entries(data).filter(([name]) => !names.includes(name)));
    replace(kept);
  }
}

function flattened(data: Structured, delimiter: string, prefix = "", out: Structured = {}): Structured {
  for (const [name, value] of Object.entries(data)) {
    const path = prefix === "" ? name : `${prefix}${delimiter}${name}`;
    if (isStructured(value)) flattened(value, delimiter, path, out);
    else out[path] = value;
  }
  return out;
}

function castToString(working: Working, part: "key" | "value" | undefined): void {
  if (part !== "value" && working.key !== undefined) working.setKey(working.key);
  if (part === "key") return;
  const value = working.value;
  if (value === null || value === undefined || typeof value === "string") return;
  if (value instanceof Uint8Array) working.value = new TextDecoder().decode(value);
  else if (typeof value === "object") working.value = JSON.stringify(value);
  else working.value = String(value);
}

function converted(value: unknown, type: ComputeType, name: string): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "STRING":
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    case "BOOLEAN":
      return typeof value === "string" ? value.toLowerCase() === "true" : Boolean(value);
    case "FLOAT":
    case "DOUBLE": {
      const number = Number(value);
      if (Number.isNaN(number)) throw new Error(`${name}: '${String(value)}' is not a number`);
      return number;
    }
    default: {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new Error(`${name}: '${String(value)}' is not an integer`);
      return Math.trunc(number);
    }
  }
}

function assign(target: Structured, path: string[], value: unknown): Structured {
  const [head, ...rest] = path as [string, ...string[]];
  const copy = { ...target };
  if (rest.length === 0) copy[head] = value;
  else copy[head] = assign(isStructured(copy[head]) ? (copy[head] as Structured) : {}, rest, value);
  return copy;
}

function setComputed(working: Working, field: ComputedField, value: unknown): void {
  const [root, ...path] = field.name.split(".") as [string, ...string[]];
  switch (root) {
    case "messageKey":
      working.setKey(value === null ? undefined : String(value));
      return;
    case "destinationTopic":
      working.destinationTopic = value === null ? undefined : String(value);
      return;
    case "properties":
      if (value === null) delete working.properties[path.join(".")];
      else working.properties[path.join(".")] = String(value);
      return;
    case "key":
      working.setStructuredKey(assign(working.structuredKey() ?? {}, path, value));
      return;
    default:
      working.value = assign(isStructured(working.value) ? working.value : {}, path, value);
  }
}

/** One compiled step: returns false when the record is dropped. */
type CompiledStep = (working: Working) => boolean;

function compileStep(step: Step): CompiledStep {
  const apply = ((): CompiledStep => {
    switch (step.type) {
      case "drop-fields":
        return (working) => {
          dropFields(working, step.fields, step.part);
          return true;
        };
      case "cast":
        return (working) => {
          castToString(working, step.part);
          return true;
        };
      case "merge-key-value":
        return (working) => {
          const key = working.structuredKey();
          if (key !== undefined && isStructured(working.value)) working.value = { ...key, ...working.value };
          return true;
        };
      case "unwrap-key-value":
        return (working) => {
          if (step["unwrap-key"] && working.key !== undefined) working.value = working.structuredKey() ?? working.key;
          return true;
        };
      case "flatten":
        return (working) => {
          for (const { data, replace } of working.parts(step.part)) replace(flattened(data, step.delimiter));
          return true;
        };
      case "drop":
        return () => false;
      case "compute": {
        const fields = step.fields.map((field) => ({ field, expression: compileExpression(field.expression) }));
        return (working) => {
          // Every expression sees the record as it was before this step, as upstream evaluates them.
          const scope = working.scope();
          const results = fields.map(({ field, expression }) => computeOne(field, expression, scope));
          for (const [index, { field }] of fields.entries()) setComputed(working, field, results[index]);
          return true;
        };
      }
    }
  })();
  if (step.when === undefined) return apply;
  const condition = compileCondition(step.when);
  return (working) => (condition(working.scope()) ? apply(working) : true);
}

function computeOne(field: ComputedField, expression: Expression, scope: ExpressionScope): unknown {
  const value = converted(expression(scope), field.type, field.name);
  if (value === null && !field.optional)
    throw new Error(`${field.name}: the expression gave null and the field is not optional`);
  return value;
}

/** The steps of a config, compiled once: apply them to a record, or learn that it is dropped (null). */
export function compileSteps(steps: readonly Step[]): (record: FunctionRecord) => FunctionRecord | null {
  const compiled = steps.map(compileStep);
  return (record) => {
    const working = new Working(record);
    for (const step of compiled) if (!step(working)) return null;
    return working.result();
  };
}
