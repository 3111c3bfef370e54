import { type ConfigSchema, REDACTED, redactConfig, sensitiveFields } from "@pulsar-connect/core/host";

const SENSITIVE_NAME = /pass(word)?|secret|token|credential|private.?key|api.?key|jaas/i;
/** `scheme://user:password@host`: the password part. */
const URL_PASSWORD = /(:\/\/[^:/?#@\s]*:)([^@/?#\s]+)(@)/g;
/** `?password=...` and friends in a URL query or a key=value list. */
const QUERY_PASSWORD = /([?&;](?:password|sslpassword|pwd|secret)=)([^&;#\s]+)/gi;

/** A string with the passwords of URLs inside it (`u:pw@host`, `?password=pw`) replaced by the placeholder. */
export function redactText(text: string): string {
  return text.replace(URL_PASSWORD, `$1${REDACTED}$3`).replace(QUERY_PASSWORD, `$1${REDACTED}`);
}

/** The passwords of URLs inside a string, as written and URL-decoded. */
function embeddedSecrets(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(URL_PASSWORD)) found.push(match[2] as string);
  for (const match of text.matchAll(QUERY_PASSWORD)) found.push(match[2] as string);
  return found.flatMap((value) => {
    try {
      const decoded = decodeURIComponent(value);
      return decoded === value ? [value] : [value, decoded];
    } catch {
      return [value];
    }
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A copy of a nested value (a map such as `producerConfigProperties`) with sensitive keys and URL passwords hidden. */
function redactNested(value: unknown): unknown {
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map(redactNested);
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        SENSITIVE_NAME.test(key) && inner !== null && inner !== undefined ? REDACTED : redactNested(inner),
      ]),
    );
  }
  return value;
}

/** Values inside a nested value that {@link redactNested} hides. */
function nestedSecrets(value: unknown, values: string[], collect: (value: unknown) => void): void {
  if (typeof value === "string") values.push(...embeddedSecrets(value));
  else if (Array.isArray(value)) for (const inner of value) nestedSecrets(inner, values, collect);
  else if (isPlainObject(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (SENSITIVE_NAME.test(key)) collect(inner);
      else nestedSecrets(inner, values, collect);
    }
  }
}

/**
 * Names of the sensitive fields: those the connector's schema marks, plus fields the schema does not declare (or
 * every field, without a schema) whose name looks like a secret.
 */
function hiddenFields(schema: ConfigSchema | undefined, configs: Record<string, unknown>): Set<string> {
  const declared = schema ? new Set(Object.keys(schema.shape)) : new Set<string>();
  const guessed = Object.keys(configs).filter((key) => !declared.has(key) && SENSITIVE_NAME.test(key));
  return new Set([...(schema ? sensitiveFields(schema) : []), ...guessed]);
}

/** A copy of a connector config fit to show: sensitive `configs` fields and every `secrets` value replaced. */
export function publicConfig<T extends { configs?: Record<string, unknown>; secrets?: Record<string, unknown> }>(
  config: T,
  schema: ConfigSchema | undefined,
): T {
  const copy = structuredClone(config);
  if (copy.configs) {
    const hidden = hiddenFields(schema, copy.configs);
    const redacted = (schema ? redactConfig(schema, copy.configs) : { ...copy.configs }) as Record<string, unknown>;
    for (const [key, value] of Object.entries(redacted)) {
      if (hidden.has(key)) {
        if (value !== undefined && value !== null) redacted[key] = REDACTED;
      } else {
        redacted[key] = redactNested(value);
      }
    }
    copy.configs = redacted;
  }
  if (copy.secrets) {
    copy.secrets = Object.fromEntries(Object.keys(copy.secrets).map((key) => [key, REDACTED]));
  }
  return copy;
}

/** The secret values of a config: every string in `secrets` and every sensitive `configs` value. */
export function secretValues(
  config: { configs?: Record<string, unknown>; secrets?: Record<string, unknown> },
  schema: ConfigSchema | undefined,
): string[] {
  const values: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === "string") values.push(value);
    else if (typeof value === "number") values.push(String(value));
    else if (value && typeof value === "object") for (const inner of Object.values(value)) collect(inner);
  };
  // A secret is a string or `{value}`; `{env}` and `{file}` name where it comes from, which is no secret (the
  // resolved values are scrubbed on their own) and must stay readable in errors.
  for (const value of Object.values(config.secrets ?? {})) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const { env, file, ...rest } = value as Record<string, unknown>;
      if (typeof env !== "string") collect(env);
      if (typeof file !== "string") collect(file);
      collect(rest);
    } else collect(value);
  }
  const configs = config.configs ?? {};
  const hidden = hiddenFields(schema, configs);
  for (const [key, value] of Object.entries(configs)) {
    if (hidden.has(key)) collect(value);
    else nestedSecrets(value, values, collect);
  }
  // Very short values would blank out ordinary words; they are not worth hiding in logs.
  return values.filter((value) => value.length >= 4);
}

/**
 * Removes secret values from text (log lines, error messages). Keeps one set per connector so that a deleted
 * connector's secrets stop being tracked.
 */
export class SecretScrubber {
  private readonly byOwner: Map<string, string[]> = new Map();
  private patterns: string[] = [];

  set(owner: string, values: string[]): void {
    if (values.length === 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, values);
    this.rebuild();
  }

  delete(owner: string): void {
    this.byOwner.delete(owner);
    this.rebuild();
  }

  /** Adds values that stay hidden for the life of the worker (auth secrets). */
  addPermanent(values: string[]): void {
    const current = this.byOwner.get("") ?? [];
    this.byOwner.set(
      "",
      [...current, ...values].filter((value) => value.length >= 4),
    );
    this.rebuild();
  }

  private rebuild(): void {
    const all = new Set<string>();
    for (const values of this.byOwner.values()) {
      for (const value of values) {
        all.add(value);
        const escaped = JSON.stringify(value).slice(1, -1);
        if (escaped !== value) all.add(escaped);
      }
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.patterns = [...all].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const pattern of this.patterns) if (out.includes(pattern)) out = out.split(pattern).join(REDACTED);
    return out;
  }
}
