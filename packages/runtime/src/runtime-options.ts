import type { FieldIssue } from "@pulsar-connect/core/host";

/**
 * Where an instance runs: `in-process` shares the worker's Node process (least memory), `process` gets a Node child
 * process of its own (a crash, a leak or a blocked event loop harms no other instance; `resources.ram` and
 * `runtimeFlags` apply).
 */
export const INSTANCE_RUNTIMES = ["in-process", "process"] as const;
export type InstanceRuntime = (typeof INSTANCE_RUNTIMES)[number];

/** Smallest `resources.ram` the process runtime accepts: below it a Node heap cannot hold a Pulsar client. */
export const MIN_PROCESS_RAM_BYTES: number = 32 * 1024 * 1024;

/** Flags refused in `runtimeFlags`, by prefix, with the reason a user reads. */
const REFUSED_FLAGS: ReadonlyArray<{ prefixes: string[]; reason: string }> = [
  {
    prefixes: ["--inspect", "--debug"],
    reason:
      "opens a debugger port: instances of a connector would clash on it, and whoever reaches it gets the worker's credentials",
  },
  {
    prefixes: ["--require", "-r", "--import", "--loader", "--experimental-loader", "--conditions", "-C"],
    reason: "changes which code the instance process loads; install code as a connector package instead",
  },
  {
    prefixes: ["--experimental-default-type", "--input-type"],
    reason: "changes how the instance process reads its own modules",
  },
  {
    prefixes: ["--watch", "--test", "--permission", "--experimental-permission", "--allow-"],
    reason: "would keep the instance process from running the connector",
  },
  { prefixes: ["--env-file"], reason: "reads environment variables from a host file" },
  { prefixes: ["--max-old-space-size"], reason: "set the heap limit with resources.ram (--ram) instead" },
];

function refusalOf(flag: string): string | undefined {
  const name = flag.split("=")[0] as string;
  for (const { prefixes, reason } of REFUSED_FLAGS) {
    if (prefixes.some((prefix) => (prefix.length === 2 ? name === prefix : name.startsWith(prefix)))) return reason;
  }
  return undefined;
}

/**
 * Node flags of `runtimeFlags` (whitespace-separated `--flag` or `--flag=value`), with an issue for each flag that
 * is not a Node option, takes its value as a separate word, or would break or open up the instance process.
 */
export function parseRuntimeFlags(value: unknown): { flags: string[]; issues: FieldIssue[] } {
  if (value === undefined || value === null || value === "") return { flags: [], issues: [] };
  if (typeof value !== "string") return { flags: [], issues: [{ path: "runtimeFlags", message: "must be a string" }] };
  const flags = value.split(/\s+/).filter((token) => token !== "");
  const issues: FieldIssue[] = [];
  for (const flag of flags) {
    const path = "runtimeFlags";
    if (!flag.startsWith("-")) {
      issues.push({ path, message: `'${flag}' is not a flag: give values as --flag=value` });
    } else if (/["'`\\]/.test(flag)) {
      issues.push({ path, message: `'${flag}': quotes and backslashes are not supported` });
    } else if (refusalOf(flag) !== undefined) {
      issues.push({ path, message: `'${flag}' is refused: ${refusalOf(flag)}` });
    } else if (!process.allowedNodeEnvironmentFlags.has(flag)) {
      issues.push({ path, message: `'${flag}' is not a Node option an instance process accepts` });
    }
  }
  return { flags, issues };
}

/**
 * The runtime a connector asks for in `customRuntimeOptions` (a JSON object; its only key is `runtime`), or undefined
 * when it leaves the choice to the worker.
 */
export function parseCustomRuntimeOptions(value: unknown): { runtime?: InstanceRuntime; issues: FieldIssue[] } {
  const path = "customRuntimeOptions";
  if (value === undefined || value === null || value === "") return { issues: [] };
  if (typeof value !== "string")
    return { issues: [{ path, message: 'must be a JSON string like {"runtime":"process"}' }] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return {
      issues: [{ path, message: 'is not valid JSON (expected {"runtime":"process"} or {"runtime":"in-process"})' }],
    };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { issues: [{ path, message: 'must be a JSON object like {"runtime":"process"}' }] };
  }
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(parsed)) {
    if (key !== "runtime") {
      issues.push({
        path: `${path}.${key}`,
        message: "is not supported: the only runtime option is runtime (there is no Kubernetes runtime to customise)",
      });
    }
  }
  const runtime = (parsed as { runtime?: unknown }).runtime;
  if (runtime === undefined) return { issues };
  if (!(INSTANCE_RUNTIMES as readonly unknown[]).includes(runtime)) {
    issues.push({
      path: `${path}.runtime`,
      message: `'${String(runtime)}' is not a runtime (${INSTANCE_RUNTIMES.join(" or ")})`,
    });
    return { issues };
  }
  return { runtime: runtime as InstanceRuntime, issues };
}

/** Heap limit in MiB for `--max-old-space-size`, from upstream's `resources.ram` in bytes. */
export function heapLimitMiB(ramBytes: number): number {
  return Math.max(1, Math.floor(ramBytes / (1024 * 1024)));
}
