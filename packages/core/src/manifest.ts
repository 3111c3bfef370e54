import { z } from "zod";
import { toFieldIssues } from "./config.ts";
import { ConnectorError } from "./errors.ts";

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

/** Schema of the manifest block. */
export const connectorManifestSchema: z.ZodType<ConnectorManifest> = z.object({
  manifestVersion: z.literal(1),
  kind: z.enum(["source", "sink", "function"]),
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "must be lowercase letters, digits and dashes, starting with a letter"),
  description: z.string().min(1, "must not be empty"),
  configSchema: z.string().optional(),
});

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
  const result = connectorManifestSchema.safeParse(block);
  if (!result.success) {
    const issues = toFieldIssues(result.error, "pulsarConnector");
    throw new ConnectorError(
      "INVALID_MANIFEST",
      `Invalid connector manifest in ${packageName}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      { issues },
    );
  }
  return result.data;
}
