import { z } from "zod";
import type { ConnectorManifest } from "./manifest.ts";

/** Schema of the manifest block (what {@link readConnectorManifest} checks, for tools that work with zod). */
export const connectorManifestSchema: z.ZodType<ConnectorManifest> = z.object({
  manifestVersion: z.literal(1),
  kind: z.enum(["source", "sink", "function"]),
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "must be lowercase letters, digits and dashes, starting with a letter"),
  description: z.string().min(1, "must not be empty"),
  configSchema: z.string().optional(),
});
