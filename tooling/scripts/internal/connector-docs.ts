import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type ConfigSchema,
  type ConnectorManifest,
  configFieldDefinitions,
  configJsonSchema,
  expectedPackageFolder,
  isFunctionDefinition,
  isSinkDefinition,
  isSourceDefinition,
  readConnectorManifest,
} from "@pulsar-connect/core";

export const TABLE_START = "<!-- config-table:start -->";
export const TABLE_END = "<!-- config-table:end -->";

/** A connector package as found on disk, with what is wrong with it. */
export interface ConnectorPackage {
  dir: string;
  folder: string;
  packageJson: Record<string, unknown>;
  manifest?: ConnectorManifest;
  config?: ConfigSchema;
  problems: string[];
}

/** Folders under `connectorsDir` that hold a package.json. */
export function connectorDirs(connectorsDir: string): string[] {
  if (!existsSync(connectorsDir)) return [];
  return readdirSync(connectorsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(connectorsDir, entry.name, "package.json")))
    .map((entry) => join(connectorsDir, entry.name))
    .sort();
}

/**
 * Reads a connector package and imports its source entry point (run node with --conditions=@pulsar-connect/source).
 * Checks: manifest valid, folder = <kind>-<name>, package name = @pulsar-connect/<folder>, keywords, and a default
 * export that is a definition of the manifest's kind, name and description.
 */
export async function loadConnector(dir: string): Promise<ConnectorPackage> {
  const folder = basename(dir);
  const packageJson = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  const found: ConnectorPackage = { dir, folder, packageJson, problems: [] };
  const problem = (message: string) => found.problems.push(message);
  let manifest: ConnectorManifest | undefined;
  try {
    manifest = readConnectorManifest(packageJson);
  } catch (error) {
    problem(error instanceof Error ? error.message : String(error));
    return found;
  }
  if (manifest === undefined) {
    problem("package.json has no pulsarConnector manifest");
    return found;
  }
  found.manifest = manifest;
  const expectedFolder = expectedPackageFolder(manifest);
  if (folder !== expectedFolder) problem(`folder is ${folder}, the manifest says it must be ${expectedFolder}`);
  if (packageJson.name !== `@pulsar-connect/${folder}`) {
    problem(`package name is ${String(packageJson.name)}, expected @pulsar-connect/${folder}`);
  }
  const keywords = Array.isArray(packageJson.keywords) ? packageJson.keywords : [];
  for (const keyword of ["pulsar-connect", `pulsar-connect-${manifest.kind}`]) {
    if (!keywords.includes(keyword)) problem(`keywords lack "${keyword}"`);
  }
  if (manifest.configSchema !== undefined && manifest.configSchema !== "./dist/config.schema.json") {
    problem(`manifest configSchema is ${manifest.configSchema}, expected ./dist/config.schema.json`);
  }

  const entry = sourceEntry(packageJson);
  if (entry === undefined) {
    problem('exports["."] has no "@pulsar-connect/source" entry');
    return found;
  }
  let definition: unknown;
  try {
    definition = ((await import(pathToFileURL(join(dir, entry)).href)) as { default?: unknown }).default;
  } catch (error) {
    problem(`importing ${entry} failed: ${error instanceof Error ? error.message : String(error)}`);
    return found;
  }
  const matchesKind = DEFINITION_CHECKS[manifest.kind].check(definition);
  if (!matchesKind) {
    problem(
      `the default export of ${entry} is not a ${manifest.kind} definition (use ${DEFINITION_CHECKS[manifest.kind].define})`,
    );
    return found;
  }
  const typed = definition as { name: string; description: string; config: ConfigSchema };
  if (typed.name !== manifest.name)
    problem(`the definition is named ${typed.name}, the manifest says ${manifest.name}`);
  if (typed.description !== manifest.description) problem("the definition's description differs from the manifest's");
  found.config = typed.config;
  return found;
}

const DEFINITION_CHECKS: Readonly<
  Record<ConnectorManifest["kind"], { check: (value: unknown) => boolean; define: string }>
> = {
  sink: { check: isSinkDefinition, define: "defineSink" },
  source: { check: isSourceDefinition, define: "defineSource" },
  function: { check: isFunctionDefinition, define: "defineFunction" },
};

function sourceEntry(packageJson: Record<string, unknown>): string | undefined {
  const exportsField = packageJson.exports as Record<string, unknown> | undefined;
  const root = exportsField?.["."];
  if (root && typeof root === "object") {
    const entry = (root as Record<string, unknown>)["@pulsar-connect/source"];
    if (typeof entry === "string") return entry;
  }
  return undefined;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The markdown config table of a schema, one row per field. */
export function configTable(schema: ConfigSchema): string {
  const properties =
    (configJsonSchema(schema) as { properties?: Record<string, { default?: unknown }> }).properties ?? {};
  const rows = configFieldDefinitions(schema).map((field) => {
    const { required, defaultValue, sensitive, help } = field.attributes;
    const hasDefault = properties[field.fieldName]?.default !== undefined;
    const shownDefault = !hasDefault ? "" : defaultValue === "" ? '`""`' : `\`${defaultValue}\``;
    return [
      `\`${field.fieldName}\``,
      field.typeName,
      required === "true" ? "yes" : "no",
      cell(shownDefault),
      sensitive === "true" ? "yes" : "no",
      cell(help),
    ];
  });
  return alignedTable(["Field", "Type", "Required", "Default", "Sensitive", "Description"], rows);
}

/** A markdown table with padded columns, the way the repository's formatter lays tables out. */
function alignedTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) => `| ${cells.map((text, column) => text.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

/** The README with the table between the markers replaced, or undefined when the markers are missing. */
export function withConfigTable(readme: string, table: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end === -1 || end < start) return undefined;
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}
