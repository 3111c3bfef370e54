import { ConnectorError, type FieldIssue } from "./errors.ts";

/** The `pulsarConnector` block of a connector package's package.json. */
export interface ConnectorManifest {
  /** Manifest format version (1). */
  manifestVersion: 1;
  /** Whether the package provides a source, a sink, or a function (a sink transform). */
  kind: "source" | "sink" | "function";
  /** Connector name: lowercase letters, digits and dashes. */
  name: string;
  /** One line describing the connector. */
  description: string;
  /** Path, relative to the package, of the generated JSON Schema of the config. */
  configSchema?: string | undefined;
}

const KINDS: readonly ConnectorManifest["kind"][] = ["source", "sink", "function"];
const NAME_PATTERN = /^[a-z][a-z0-9-]*$/;

/** What a value is, in the words of zod's messages (which {@link connectorManifestSchema} gives for the same block). */
function received(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * The issues of a manifest block, as {@link connectorManifestSchema} reports them; checked by hand so that reading
 * manifests (at every discovery) does not load zod.
 */
function manifestIssues(block: unknown): FieldIssue[] {
  if (typeof block !== "object" || block === null || Array.isArray(block)) {
    return [{ path: "", message: `Invalid input: expected object, received ${received(block)}` }];
  }
  const fields = block as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  const text = (name: string, optional: boolean, check?: (value: string) => string | undefined) => {
    const value = fields[name];
    if (value === undefined && optional) return;
    if (typeof value !== "string") {
      issues.push({ path: name, message: `Invalid input: expected string, received ${received(value)}` });
      return;
    }
    const problem = check?.(value);
    if (problem) issues.push({ path: name, message: problem });
  };
  if (fields.manifestVersion !== 1) issues.push({ path: "manifestVersion", message: "Invalid input: expected 1" });
  if (!KINDS.includes(fields.kind as ConnectorManifest["kind"])) {
    issues.push({ path: "kind", message: `Invalid option: expected one of ${KINDS.map((k) => `"${k}"`).join("|")}` });
  }
  text("name", false, (value) =>
    NAME_PATTERN.test(value) ? undefined : "must be lowercase letters, digits and dashes, starting with a letter",
  );
  text("description", false, (value) => (value.length >= 1 ? undefined : "must not be empty"));
  text("configSchema", true);
  return issues;
}

/** Package folder name that a package with this manifest must live in (`sink-cassandra`, `function-transforms`). */
export function expectedPackageFolder(manifest: Pick<ConnectorManifest, "kind" | "name">): string {
  return `${manifest.kind}-${manifest.name}`;
}

/**
 * Reads and checks the manifest of a parsed package.json. Returns undefined when the package declares no
 * manifest; throws INVALID_MANIFEST with field issues when it declares a bad one.
 */
export function readConnectorManifest(packageJson: unknown): ConnectorManifest | undefined {
  if (!packageJson || typeof packageJson !== "object") return undefined;
  const block = (packageJson as { pulsarConnector?: unknown }).pulsarConnector;
  if (block === undefined) return undefined;
  const packageName = String((packageJson as { name?: unknown }).name ?? "<unnamed>");
  const found = manifestIssues(block);
  if (found.length > 0) {
    const issues = found.map((issue) => ({
      ...issue,
      path: ["pulsarConnector", issue.path].filter(Boolean).join("."),
    }));
    throw new ConnectorError(
      "INVALID_MANIFEST",
      `Invalid connector manifest in ${packageName}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      { issues },
    );
  }
  const fields = block as ConnectorManifest;
  // Only the manifest's own fields, as the schema keeps them.
  return {
    manifestVersion: fields.manifestVersion,
    kind: fields.kind,
    name: fields.name,
    description: fields.description,
    ...(fields.configSchema === undefined ? {} : { configSchema: fields.configSchema }),
  };
}
