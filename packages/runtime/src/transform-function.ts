import { type FieldIssue, type FunctionDefinition, parseConfig } from "@pulsar-connect/core/host";

/**
 * The sink transform fields of upstream SinkConfig (`transformFunction`, `transformFunctionClassName`,
 * `transformFunctionConfig`): which installed function package runs on each record before the sink, and its config.
 */

const NAME = /^[a-z][a-z0-9-]*$/;

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/**
 * The function name a `transformFunction` value selects (`builtin://<name>` or a bare name), or undefined when it
 * names none: upstream's `function://` packages and archive paths or URLs are not supported.
 */
export function transformFunctionName(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const name = value.startsWith("builtin://") ? value.slice("builtin://".length) : value;
  return NAME.test(name) ? name : undefined;
}

/** Whether a sink config selects a transform function. */
export function hasTransformFunction(config: { transformFunction?: unknown }): boolean {
  return present(config.transformFunction);
}

/** The function's config: `transformFunctionConfig` parsed from its JSON text (an object is taken as it is). */
export function transformFunctionConfigOf(config: { transformFunctionConfig?: unknown }): unknown {
  const raw = config.transformFunctionConfig;
  if (!present(raw)) return {};
  if (typeof raw === "string") return JSON.parse(raw) as unknown;
  return raw;
}

/** Field issues of the transform fields that need no installed package. */
export function checkTransformFields(config: Record<string, unknown>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const { transformFunction, transformFunctionClassName, transformFunctionConfig } = config;
  if (present(transformFunction)) {
    if (typeof transformFunction !== "string") {
      issues.push({ path: "transformFunction", message: "must be a string (builtin://<name>)" });
    } else if (transformFunctionName(transformFunction) === undefined) {
      issues.push({
        path: "transformFunction",
        message: `'${transformFunction}' is not supported: name an installed function package as builtin://<name> (function packages are installed next to the worker, not uploaded)`,
      });
    }
  } else {
    for (const field of ["transformFunctionClassName", "transformFunctionConfig"] as const) {
      if (present(config[field])) issues.push({ path: field, message: "needs transformFunction" });
    }
  }
  if (present(transformFunctionClassName) && typeof transformFunctionClassName !== "string") {
    issues.push({ path: "transformFunctionClassName", message: "must be a string" });
  }
  if (present(transformFunctionConfig)) {
    try {
      const parsed = transformFunctionConfigOf(config);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        issues.push({ path: "transformFunctionConfig", message: "must be a JSON object" });
      }
    } catch (error) {
      issues.push({
        path: "transformFunctionConfig",
        message: `is not valid JSON: ${(error as Error).message}`,
      });
    }
  }
  return issues;
}

/** What the checks of an installed function need to know about it. */
export interface InstalledFunction {
  name: string;
  packageName: string;
  definition: FunctionDefinition;
}

/**
 * Field issues of a sink's transform against the installed functions: the function must be installed, a class name
 * must name that same function (its name or package), and the config must satisfy the function's schema.
 */
export function checkTransformFunction(
  config: { transformFunction?: unknown; transformFunctionClassName?: unknown; transformFunctionConfig?: unknown },
  lookup: (name: string) => InstalledFunction | undefined,
  available: readonly string[],
): FieldIssue[] {
  if (!hasTransformFunction(config)) return [];
  const issues = checkTransformFields(config as Record<string, unknown>);
  if (issues.length > 0) return issues;
  const name = transformFunctionName(config.transformFunction) as string;
  const installed = lookup(name);
  if (installed === undefined) {
    return [
      {
        path: "transformFunction",
        message: `function '${name}' is not installed -- available functions are: [${available.join(", ")}]`,
      },
    ];
  }
  const className = config.transformFunctionClassName;
  if (present(className) && className !== installed.name && className !== installed.packageName) {
    issues.push({
      path: "transformFunctionClassName",
      message: `'${String(className)}' is not the function of ${String(config.transformFunction)}: it is ${installed.packageName} (leave transformFunctionClassName out)`,
    });
  }
  const result = parseConfig(
    installed.definition.config,
    transformFunctionConfigOf(config),
    undefined,
    "transformFunctionConfig",
  );
  if (!result.ok) issues.push(...result.issues);
  return issues;
}
