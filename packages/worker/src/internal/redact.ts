import { type ConfigSchema, REDACTED, redactConfig, sensitiveFields } from "@pulsar-connect/core";

const SENSITIVE_NAME = /pass(word)?|secret|token|credential|private.?key|api.?key/i;

/** Names of the sensitive fields: from the connector's schema, or guessed from the name when no schema is known. */
function hiddenFields(schema: ConfigSchema | undefined, configs: Record<string, unknown>): Set<string> {
  if (schema) return new Set(sensitiveFields(schema));
  return new Set(Object.keys(configs).filter((key) => SENSITIVE_NAME.test(key)));
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
    for (const key of hidden) if (redacted[key] !== undefined && redacted[key] !== null) redacted[key] = REDACTED;
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
  for (const value of Object.values(config.secrets ?? {})) collect(value);
  const configs = config.configs ?? {};
  for (const key of hiddenFields(schema, configs)) collect(configs[key]);
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
