// Scaffolds a connector package:
//   pnpm new:connector --kind sink|source --name <name> [--description "..."] [--dependency <pkg>[@<range>]]...
//                      [--no-install]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  CONNECTOR_KINDS,
  type ConnectorKind,
  catalogEntries,
  changesetOf,
  connectorFiles,
  connectorFolder,
  isConnectorKind,
  NAME_PATTERN,
  parseDependency,
  type ScaffoldDependency,
  withCatalogEntry,
} from "./internal/scaffold.ts";

const root = resolve(import.meta.dirname, "../..");
const usage = `usage: pnpm new:connector --kind ${CONNECTOR_KINDS.join("|")} --name <name> [--description "..."]
                         [--dependency <package>[@<range>]]... [--no-install]
  --dependency  a client library the connector uses (repeatable): a package of the pnpm catalog by name
                (e.g. pg), a new one with its version range (e.g. my-client@^2.1.0, added to the catalog),
                or a workspace package (e.g. @pulsar-connect/jdbc-common)
  --no-install  write the files only; then run pnpm install, pnpm docs:connectors and biome yourself`;

const { values } = parseArgs({
  options: {
    kind: { type: "string" },
    name: { type: "string" },
    description: { type: "string" },
    dependency: { type: "string", multiple: true, default: [] },
    "no-install": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const kind = values.kind;
const name = values.name;
if (!isConnectorKind(kind)) fail(`--kind must be one of ${CONNECTOR_KINDS.join(", ")}`);
if (name === undefined || !NAME_PATTERN.test(name)) {
  fail("--name must be lowercase letters and digits in dash-separated words, starting with a letter (e.g. my-store)");
}
if (values.description !== undefined && values.description.trim() === "") fail("--description must not be empty");
const folder = connectorFolder(kind, name);
const dir = join(root, "connectors", folder);
if (existsSync(dir)) fail(`connectors/${folder} already exists`);

const workspaceFile = join(root, "pnpm-workspace.yaml");
const workspaceYaml = readFileSync(workspaceFile, "utf8");
const { dependencies, catalogAdditions } = resolveDependencies(values.dependency);

const options = {
  kind,
  name,
  dependencies,
  ...(values.description === undefined ? {} : { description: values.description }),
};
for (const [file, content] of Object.entries(connectorFiles(options))) {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), content);
}
const changeset = changesetOf(options);
const changesetPath = join(root, ".changeset", changeset.file);
writeFileSync(changesetPath, changeset.content);
let updatedYaml = workspaceYaml;
for (const [library, range] of catalogAdditions) updatedYaml = withCatalogEntry(updatedYaml, library, range);
if (updatedYaml !== workspaceYaml) writeFileSync(workspaceFile, updatedYaml);

console.log(`created connectors/${folder} and .changeset/${changeset.file}`);
for (const [library, range] of catalogAdditions)
  console.log(`added ${library}: ${range} to the catalog of pnpm-workspace.yaml`);

// biome ships with the root install, so the files are formatted even without installing the new package.
const format = () =>
  execFileSync("pnpm", ["exec", "biome", "check", "--write", dir, changesetPath], { cwd: root, stdio: "inherit" });
if (!values["no-install"]) {
  // Adding a package changes the lockfile, also where pnpm would default to a frozen one (CI=true).
  execFileSync("pnpm", ["install", "--no-frozen-lockfile"], { cwd: root, stdio: "inherit" });
  execFileSync(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(root, "tooling/scripts/connector-docs.ts"), "--only", dir],
    { cwd: root, stdio: "inherit" },
  );
  format();
} else if (existsSync(join(root, "node_modules/.bin/biome"))) {
  format();
}
console.log(nextSteps());

function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

/** Sorts `--dependency` arguments into catalog, new catalog and workspace dependencies; refuses the rest. */
function resolveDependencies(requests: readonly string[]): {
  dependencies: ScaffoldDependency[];
  catalogAdditions: Map<string, string>;
} {
  const catalog = catalogEntries(workspaceYaml);
  const workspacePackages = workspacePackageNames();
  const dependencies: ScaffoldDependency[] = [];
  const catalogAdditions = new Map<string, string>();
  for (const text of requests) {
    const request = parseDependency(text);
    if (!request) fail(`--dependency ${text}: expected <package> or <package>@<range>`);
    if (dependencies.some((dep) => dep.name === request.name)) fail(`--dependency ${request.name} is given twice`);
    if (workspacePackages.has(request.name)) {
      if (request.range !== undefined) {
        fail(`--dependency ${text}: ${request.name} is a package of this repository; give it without a range`);
      }
      dependencies.push({ name: request.name, specifier: "workspace:^" });
      continue;
    }
    const cataloged = catalog.get(request.name);
    if (cataloged !== undefined && request.range !== undefined && request.range !== cataloged) {
      fail(
        `--dependency ${text}: the catalog already pins ${request.name} at ${cataloged}; give it without a range ` +
          "(changing the catalog changes it for every package that uses it)",
      );
    }
    if (cataloged === undefined) {
      if (request.range === undefined) {
        fail(
          `--dependency ${text}: ${request.name} is not in the catalog of pnpm-workspace.yaml; ` +
            `give its version range, e.g. --dependency ${request.name}@^1.0.0`,
        );
      }
      catalogAdditions.set(request.name, request.range);
    }
    dependencies.push({ name: request.name, specifier: "catalog:" });
  }
  return { dependencies, catalogAdditions };
}

function workspacePackageNames(): Set<string> {
  const names = new Set<string>();
  for (const group of ["packages", "connectors", "tooling"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      const file = join(base, entry.name, "package.json");
      if (!entry.isDirectory() || !existsSync(file)) continue;
      const packageName = (JSON.parse(readFileSync(file, "utf8")) as { name?: unknown }).name;
      if (typeof packageName === "string") names.add(packageName);
    }
  }
  return names;
}

function nextSteps(): string {
  const steps: string[] = [];
  if (values["no-install"]) {
    steps.push(
      `pnpm install && pnpm docs:connectors && pnpm exec biome check --write connectors/${folder} (fills the README config table)`,
    );
  }
  steps.push(`edit connectors/${folder}/src/index.ts: replace the skeleton ${kindWork(options.kind)} with the system`);
  steps.push(
    dependencies.length === 0
      ? [
          "add its client library (none was given with --dependency):",
          '   - to the catalog in pnpm-workspace.yaml, under "catalog:", a line `  <library>: ^<version>`',
          `   - to connectors/${folder}/package.json, "dependencies": { "<library>": "catalog:" }`,
          "   - to onlyBuiltDependencies in pnpm-workspace.yaml if pnpm install reports its build scripts as ignored",
          "   then pnpm install",
        ].join("\n")
      : `uses ${dependencies.map((dep) => `${dep.name} (${dep.specifier})`).join(", ")}; a library whose install ` +
          "script pnpm reports as ignored also goes under onlyBuiltDependencies in pnpm-workspace.yaml",
  );
  steps.push(
    `list the servers its integration tests need in connectors/${folder}/test/services.json (it has "pulsar")`,
  );
  steps.push(`pnpm vitest run --project ${folder} --project ${folder}:integration`);
  steps.push(
    `commit connectors/${folder}, .changeset/${folder}.md, pnpm-lock.yaml` +
      (catalogAdditions.size > 0 ? " and pnpm-workspace.yaml" : ""),
  );
  return `\nnext:\n${steps.map((step, i) => `${i + 1}. ${step}`).join("\n")}`;
}

function kindWork(connectorKind: ConnectorKind): string {
  return connectorKind === "sink" ? "file writes" : "record generator";
}
