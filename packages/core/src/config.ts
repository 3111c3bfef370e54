import type { z } from "zod";
import { ConnectorError, type FieldIssue } from "./errors.ts";

/** A connector config schema: a zod object schema. */
export type ConfigSchema = z.ZodObject;

/** Placeholder shown instead of a sensitive value. */
export const REDACTED = "********";

/** Marks a config field as sensitive: redacted wherever config is shown, resolvable from `secrets`. */
export function sensitive<T extends z.ZodType>(schema: T): T {
  return schema.meta({ sensitive: true }) as T;
}

/**
 * Marks a config field that upstream configs carry but that has no effect here (a Java class name, or a setting
 * whose upstream behaviour would break a guarantee). The field is still accepted, so upstream configs keep working,
 * but setting it yields a warning carrying `reason` (see {@link compatWarnings}).
 */
export function compatOnly<T extends z.ZodType>(schema: T, reason: string): T {
  return schema.meta({ ...schema.meta(), compatOnly: reason }) as T;
}

/**
 * Marks keys of a map field (such as a Kafka properties map) that are accepted without effect: setting one of
 * them yields a warning with the reason given for that key.
 */
export function compatOnlyKeys<T extends z.ZodType>(schema: T, reasons: Readonly<Record<string, string>>): T {
  return schema.meta({ ...schema.meta(), compatOnlyKeys: { ...reasons } }) as T;
}

/** A config value that is accepted but has no effect, and why. */
export interface ConfigWarning {
  /** Path of the field, e.g. `configs.keySerializerClass`. */
  field: string;
  /** Why the field has no effect. */
  message: string;
}

/** Upstream-shaped description of one config field (the `configdefinition` answer). */
export interface ConfigFieldDefinition {
  /** Field name. */
  fieldName: string;
  /** JSON type of the field (`string`, `integer`, `boolean`, `array`, `object`, `number`). */
  typeName: string;
  /** `required`, `defaultValue`, `sensitive` and `help`, as strings. */
  attributes: { required: string; defaultValue: string; sensitive: string; help: string };
}

type AnyDef = { innerType?: z.ZodType; in?: z.ZodType; type?: string };

function layers(schema: z.ZodType): z.ZodType[] {
  const out: z.ZodType[] = [];
  let current: z.ZodType | undefined = schema;
  while (current && out.length < 10) {
    out.push(current);
    const def: AnyDef = (current as unknown as { _zod: { def: AnyDef } })._zod.def;
    current = def.innerType ?? def.in;
  }
  return out;
}

interface FieldMeta {
  sensitive?: boolean;
  description?: string;
  compatOnly?: string;
  compatOnlyKeys?: Record<string, string>;
}

function metaOf(schema: z.ZodType): FieldMeta {
  const merged: FieldMeta = {};
  // Outer layers win: `.describe()` on an `.optional()` names the field, whatever the inner type says.
  for (const layer of layers(schema).reverse()) Object.assign(merged, layer.meta() as FieldMeta | undefined);
  return merged;
}

/**
 * Warnings for the fields of `raw` that are marked {@link compatOnly} (or keys marked {@link compatOnlyKeys}) and
 * that the user set. Field paths start with `prefix`.
 */
export function compatWarnings(schema: ConfigSchema, raw: unknown, prefix = "configs"): ConfigWarning[] {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return [];
  const values = raw as Record<string, unknown>;
  const warnings: ConfigWarning[] = [];
  const path = (...parts: string[]) => [prefix, ...parts].filter((part) => part !== "").join(".");
  for (const [name, field] of Object.entries(schema.shape)) {
    const value = values[name];
    if (value === undefined || value === null) continue;
    const meta = metaOf(field as z.ZodType);
    if (meta.compatOnly) warnings.push({ field: path(name), message: meta.compatOnly });
    if (meta.compatOnlyKeys && typeof value === "object" && !Array.isArray(value)) {
      for (const key of Object.keys(value)) {
        const reason = meta.compatOnlyKeys[key];
        if (reason) warnings.push({ field: path(name, key), message: reason });
      }
    }
  }
  return warnings;
}

/** Names of the sensitive fields of a config schema. */
export function sensitiveFields(schema: ConfigSchema): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => metaOf(field as z.ZodType).sensitive === true)
    .map(([name]) => name);
}

/** Turns zod issues into field issues, prefixing paths with `prefix`. */
export function toFieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((part) => part !== "").join(".");
    return { path, message: issue.message };
  });
}

/** Result of {@link parseConfig}. */
export type ConfigResult<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/**
 * Validates a raw config against a schema, after letting secrets override sensitive fields
 * (`getSecret(fieldName)`). Never throws.
 */
export function parseConfig<S extends ConfigSchema>(
  schema: S,
  raw: unknown,
  getSecret?: (name: string) => string | undefined,
  pathPrefix = "configs",
): ConfigResult<z.output<S>> {
  const input: Record<string, unknown> =
    raw && typeof raw === "object" && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : {};
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    return { ok: false, issues: [{ path: pathPrefix, message: "must be an object" }] };
  }
  if (getSecret) {
    for (const field of sensitiveFields(schema)) {
      const secret = getSecret(field);
      if (secret !== undefined) input[field] = secret;
    }
  }
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toFieldIssues(result.error, pathPrefix) };
}

/** Like {@link parseConfig}, but throws an INVALID_CONFIG {@link ConnectorError} listing every issue. */
export function loadConfig<S extends ConfigSchema>(
  schema: S,
  raw: unknown,
  getSecret?: (name: string) => string | undefined,
): z.output<S> {
  const result = parseConfig(schema, raw, getSecret);
  if (result.ok) return result.value;
  throw new ConnectorError("INVALID_CONFIG", formatIssues("Invalid connector config", result.issues), {
    issues: result.issues,
  });
}

/** One readable message for a list of field issues. */
export function formatIssues(title: string, issues: readonly FieldIssue[]): string {
  return `${title}: ${issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ")}`;
}

/** A copy of `config` with every sensitive field (and every nested key that looks like one) replaced by {@link REDACTED}. */
export function redactConfig(schema: ConfigSchema | undefined, config: unknown): unknown {
  if (!config || typeof config !== "object" || Array.isArray(config)) return config;
  const hidden = new Set(schema ? sensitiveFields(schema) : []);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    out[key] = hidden.has(key) && value !== undefined && value !== null ? REDACTED : value;
  }
  return out;
}

/** JSON Schema (draft 2020-12) of a config schema, with `sensitive` kept as an annotation. */
export function configJsonSchema(schema: ConfigSchema): Record<string, unknown> {
  // The schema's own method: core imports zod for types only, so a host loads it with the first connector.
  return schema.toJSONSchema({ io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

/** The upstream `ConfigFieldDefinition` list for a config schema. */
export function configFieldDefinitions(schema: ConfigSchema): ConfigFieldDefinition[] {
  const json = configJsonSchema(schema) as { properties?: Record<string, { type?: unknown }> };
  return Object.entries(schema.shape).map(([fieldName, fieldSchema]) => {
    const field = fieldSchema as z.ZodType;
    const empty = field.safeParse(undefined);
    const meta = metaOf(field);
    const jsonType = json.properties?.[fieldName]?.type;
    const defaultValue = empty.success && empty.data !== undefined ? empty.data : undefined;
    return {
      fieldName,
      typeName: typeof jsonType === "string" ? jsonType : Array.isArray(jsonType) ? jsonType.join("|") : "any",
      attributes: {
        required: String(!empty.success),
        defaultValue:
          defaultValue === undefined
            ? ""
            : typeof defaultValue === "string"
              ? defaultValue
              : JSON.stringify(defaultValue),
        sensitive: String(meta.sensitive === true),
        help: helpOf(meta, field),
      },
    };
  });
}

function helpOf(meta: FieldMeta, field: z.ZodType): string {
  const help = meta.description ?? field.description ?? "";
  if (!meta.compatOnly) return help;
  const warning = `Setting it only gives a warning: ${meta.compatOnly}`;
  return help ? `${help}. ${warning}` : warning;
}
