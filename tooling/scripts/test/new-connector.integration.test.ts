// `pnpm new:connector` must emit a connector that passes CI unchanged. For every kind it offers, this runs the real
// command in a throwaway copy of the workspace (the root files and the packages a connector and its tests need), then
// what CI runs on a connector: a frozen install, biome, tsc, check:connectors, build + publint, and the connector's
// own unit, conformance and integration tests against the shared Pulsar. Then the runtime must discover it, and its
// README's create example must pass its config validation.
// The copy lives in the system's temp folder: nothing is written inside this checkout, so a concurrent
// `pnpm install --frozen-lockfile` or `pnpm lint` here never sees a half-made package.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jarsRoot, runRoot } from "../../services/src/index.ts";
import { CONNECTOR_KINDS, type ConnectorKind, catalogEntries, connectorFiles } from "../internal/scaffold.ts";

const repoRoot = join(import.meta.dirname, "../../..");
const NAME = "acme-store";
/** Files of the repository root that installs, lint, type checks and vitest read. */
const ROOT_FILES = [
  "package.json",
  "pnpm-workspace.yaml",
  "pnpm-lock.yaml",
  "biome.json",
  "vitest.config.ts",
  "turbo.json",
  ".npmrc",
  ".gitignore",
  ".changeset/config.json",
];
/** Workspace packages the copy needs besides the connector's own: the scripts, the servers, the runtime. */
const HOST_PACKAGES = ["@pulsar-connect/scripts", "@pulsar-connect/services", "@pulsar-connect/runtime"];
/** Build output and installs are made afresh in the copy. */
const NOT_COPIED = new Set(["node_modules", "dist", ".run", ".turbo", "results"]);
const TEMP_PREFIX = "pc-new-connector-";

interface Case {
  kind: ConnectorKind;
  folder: string;
  /** The `--dependency` arguments, and the catalog line the command must add for them (if any). */
  dependencyArgs: string[];
  expectedDependencies: Record<string, string>;
  catalogAddition?: string;
}

// A sink with a library of the catalog (zod is there for core); a source with a library new to the catalog (split2
// is in the pnpm store through pino, but in no catalog entry). A kind added to the scaffold must be added here.
const dependencyCases: Record<ConnectorKind, Omit<Case, "kind" | "folder">> = {
  sink: { dependencyArgs: ["--dependency", "zod"], expectedDependencies: { zod: "catalog:" } },
  source: {
    dependencyArgs: ["--dependency", "split2@4.2.0"],
    expectedDependencies: { split2: "catalog:" },
    catalogAddition: "  split2: 4.2.0",
  },
};
const cases: Case[] = CONNECTOR_KINDS.map((kind) => ({ kind, folder: `${kind}-${NAME}`, ...dependencyCases[kind] }));

let workspace = "";
const env: NodeJS.ProcessEnv = childEnv();

beforeAll(async () => {
  const catalog = catalogEntries(readFileSync(join(repoRoot, "pnpm-workspace.yaml"), "utf8"));
  if (!catalog.has("zod") || catalog.has("split2")) {
    throw new Error("this test expects zod in the catalog of pnpm-workspace.yaml and split2 not: pick other libraries");
  }
  removeAbandonedCopies();
  workspace = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
  copyWorkspace(workspace);
  await run("pnpm", ["install", "--frozen-lockfile"], workspace);
}, 300_000);

afterAll(() => {
  if (workspace !== "") rmSync(workspace, { recursive: true, force: true });
});

describe.each(cases)(
  "pnpm new:connector --kind $kind",
  (c) => {
    const dir = () => join(workspace, "connectors", c.folder);
    const packageName = `@pulsar-connect/${c.folder}`;

    it("writes the package, its changeset and lockfile entries (and the catalog line), nothing else", async () => {
      const before = snapshot(workspace);
      const workspaceYamlBefore = readFileSync(join(workspace, "pnpm-workspace.yaml"), "utf8");
      await run(
        "pnpm",
        [
          "new:connector",
          "--kind",
          c.kind,
          "--name",
          NAME,
          "--description",
          `Keeps records in the Acme store (${c.kind} made by the scaffold test)`,
          ...c.dependencyArgs,
        ],
        workspace,
      );
      const after = snapshot(workspace);
      const changed = [...new Set([...before.keys(), ...after.keys()])]
        .filter((file) => before.get(file) !== after.get(file))
        .filter((file) => !file.startsWith(`connectors/${c.folder}/`))
        .sort();
      expect(changed).toEqual(
        [`.changeset/${c.folder}.md`, "pnpm-lock.yaml", ...(c.catalogAddition ? ["pnpm-workspace.yaml"] : [])].sort(),
      );
      const workspaceYamlAfter = readFileSync(join(workspace, "pnpm-workspace.yaml"), "utf8");
      const added = workspaceYamlAfter.split("\n").filter((line) => !workspaceYamlBefore.split("\n").includes(line));
      expect(added).toEqual(c.catalogAddition ? [c.catalogAddition] : []);
      const packageJson = JSON.parse(readFileSync(join(dir(), "package.json"), "utf8"));
      expect(packageJson.dependencies).toEqual(c.expectedDependencies);
      expect(readFileSync(join(dir(), "README.md"), "utf8")).toContain("| `");
    });

    it("installs from the lockfile it left, as CI does (--frozen-lockfile)", async () => {
      await run("pnpm", ["install", "--frozen-lockfile", "--offline"], workspace);
    });

    it("passes biome", async () => {
      await run("pnpm", ["exec", "biome", "check", `connectors/${c.folder}`], workspace);
    });

    it("typechecks", async () => {
      await run("pnpm", ["--filter", packageName, "run", "typecheck"], workspace);
    });

    it("passes check:connectors (manifest, names, keywords, default export, README config table)", async () => {
      const output = await run("pnpm", ["check:connectors"], workspace);
      expect(output).toContain(`connectors/${c.folder}: ok`);
    });

    it("builds, and passes publint --strict (check:packages)", async () => {
      await run("pnpm", ["--filter", packageName, "run", "build"], workspace);
      expect(readdirSync(join(dir(), "dist")).sort()).toEqual(["config.schema.json", "index.d.mts", "index.mjs"]);
      await run("pnpm", ["--filter", packageName, "exec", "publint", "--strict"], workspace);
    });

    it("passes its own unit, conformance and integration tests against the shared Pulsar", async () => {
      const results = join(workspace, `${c.folder}.results.json`);
      // A temp folder of their own shows whether the connector's tests clean up after themselves.
      const temp = join(workspace, `tmp-${c.folder}`);
      mkdirSync(temp);
      await run(
        "pnpm",
        [
          "exec",
          "vitest",
          "run",
          "--project",
          c.folder,
          "--project",
          `${c.folder}:integration`,
          "--reporter=dot",
          "--reporter=json",
          `--outputFile.json=${results}`,
        ],
        workspace,
        { TMPDIR: temp },
      );
      const report = JSON.parse(readFileSync(results, "utf8")) as {
        numFailedTests: number;
        numPendingTests: number;
        numTodoTests: number;
        testResults: { name: string; assertionResults: { status: string; fullName: string }[] }[];
      };
      const files = report.testResults.map((file) => relative(dir(), file.name)).sort();
      expect(files).toEqual(["src/index.test.ts", "test/conformance.integration.test.ts"]);
      expect(report.numFailedTests + report.numPendingTests + report.numTodoTests).toBe(0);
      const conformance = report.testResults.find((file) => file.name.endsWith("conformance.integration.test.ts"));
      const names = conformance?.assertionResults.map((test) => test.fullName) ?? [];
      expect(names.some((name) => name.includes(`${NAME}: ${c.kind} conformance`))).toBe(true);
      expect(conformance?.assertionResults.every((test) => test.status === "passed")).toBe(true);
      expect(readdirSync(temp).filter((entry) => entry.startsWith(c.folder))).toEqual([]);
    });

    it("is found by the runtime's manifest discovery, from its built package", async () => {
      // A host folder as the worker has one: a package.json naming the connector, and the package installed next to it.
      const host = join(workspace, `host-${c.folder}`);
      mkdirSync(join(host, "node_modules", "@pulsar-connect"), { recursive: true });
      writeFileSync(
        join(host, "package.json"),
        JSON.stringify({ name: "host", private: true, dependencies: { [packageName]: "0.0.0" } }),
      );
      symlinkSync(dir(), join(host, "node_modules", packageName), "dir");
      const result = await nodeScript(
        `import { ConnectorCatalog } from ${moduleOf("packages/runtime/src/index.ts")};
const catalog = await ConnectorCatalog.discover({ hostDirs: [${JSON.stringify(host)}] });
const found = catalog.get(${JSON.stringify(c.kind)}, ${JSON.stringify(NAME)});
console.log(JSON.stringify({
  found: found && { packageName: found.packageName, entry: found.entryModule },
  problems: catalog.problems,
}));`,
      );
      expect(result.problems).toEqual([]);
      expect(result.found).toMatchObject({ packageName, entry: join(realpathSync(dir()), "dist/index.mjs") });
    });

    it("accepts the config of the create example in its README", async () => {
      const readme = readFileSync(join(dir(), "README.md"), "utf8");
      const example = new RegExp(`--${c.kind}-config '([^']*)'`).exec(readme)?.[1];
      expect(example, "the README shows a create command with its config").toBeDefined();
      const result = await nodeScript(
        `import { parseConfig } from ${moduleOf("packages/core/src/index.ts")};
import definition from ${moduleOf(`connectors/${c.folder}/src/index.ts`)};
console.log(JSON.stringify(parseConfig(definition.config, ${JSON.stringify(JSON.parse(example ?? "null"))})));`,
      );
      expect(result.ok ? [] : result.issues).toEqual([]);
    });
  },
  300_000,
);

/** file: URL of a module of the workspace copy, as a string literal for an import. */
function moduleOf(path: string): string {
  return JSON.stringify(pathToFileURL(join(workspace, path)).href);
}

/** Runs an ES module in the workspace copy (sources through the export condition); the JSON it prints last. */
async function nodeScript(code: string): Promise<Record<string, unknown>> {
  const script = join(workspace, `script-${createHash("sha256").update(code).digest("hex").slice(0, 12)}.mjs`);
  writeFileSync(script, `${code}\n`);
  const output = await run(process.execPath, ["--conditions=@pulsar-connect/source", script], workspace);
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}");
}

/** Copies the root files and the workspace packages the connector needs (by their workspace dependencies). */
function copyWorkspace(into: string): void {
  for (const file of ROOT_FILES) {
    mkdirSync(join(into, file, ".."), { recursive: true });
    cpSync(join(repoRoot, file), join(into, file));
  }
  mkdirSync(join(into, "connectors"), { recursive: true });
  const packages = workspacePackages();
  const wanted = [...HOST_PACKAGES];
  for (const c of cases) {
    const files = connectorFiles({ kind: c.kind, name: NAME });
    wanted.push(...workspaceDependencies(JSON.parse(files["package.json"] ?? "{}")));
  }
  const copied = new Set<string>();
  while (wanted.length > 0) {
    const name = wanted.pop() ?? "";
    if (copied.has(name)) continue;
    const dir = packages.get(name);
    if (dir === undefined) throw new Error(`workspace package ${name} not found in the repository`);
    copied.add(name);
    cpSync(join(repoRoot, dir), join(into, dir), {
      recursive: true,
      filter: (source) => !NOT_COPIED.has(basename(source)),
    });
    wanted.push(...workspaceDependencies(JSON.parse(readFileSync(join(repoRoot, dir, "package.json"), "utf8"))));
  }
}

/** Package name -> folder relative to the repository, for every workspace package. */
function workspacePackages(): Map<string, string> {
  const packages = new Map<string, string>();
  for (const group of ["packages", "connectors", "tooling"]) {
    for (const entry of readdirSync(join(repoRoot, group), { withFileTypes: true })) {
      const file = join(repoRoot, group, entry.name, "package.json");
      if (!entry.isDirectory() || !existsSync(file)) continue;
      packages.set((JSON.parse(readFileSync(file, "utf8")) as { name: string }).name, `${group}/${entry.name}`);
    }
  }
  return packages;
}

function workspaceDependencies(packageJson: Record<string, Record<string, string> | undefined>): string[] {
  return ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"].flatMap((field) =>
    Object.entries(packageJson[field] ?? {})
      .filter(([, specifier]) => specifier.startsWith("workspace:"))
      .map(([name]) => name),
  );
}

/** Hash of every file outside node_modules, by path relative to `root`. */
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile())
        files.set(relative(root, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  };
  walk(root);
  return files;
}

/** A copy left by a run that was killed before its afterAll: its process is gone. */
function removeAbandonedCopies(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^pc-new-connector-(\d+)-/.exec(entry)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The environment of the commands: CI's (pnpm then defaults to a frozen lockfile, which the scaffold must override),
 * this run's servers, and no trace of the vitest that runs this file.
 */
function childEnv(): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = {
    ...process.env,
    CI: "true",
    // Installs take what the pnpm store and metadata cache hold, and ask the registry only for what they lack.
    npm_config_prefer_offline: "true",
    PC_SERVICES_RUN: runRoot(),
    PC_SERVICES_JARS: jarsRoot(),
  };
  for (const key of Object.keys(copy)) if (key.startsWith("VITEST") || key === "NODE_ENV") delete copy[key];
  return copy;
}

/** Runs a command to completion; its stdout when it exits 0, else an error carrying the end of its output. */
function run(command: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { cwd, env: { ...env, ...extraEnv }, maxBuffer: 64 * 1024 * 1024 };
    execFile(command, args, options, (error, stdout, stderr) => {
      if (!error) {
        resolve(stdout);
        return;
      }
      const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-60).join("\n");
      reject(new Error(`${command} ${args.join(" ")} failed in ${cwd} (${error.message.split("\n")[0]}):\n${tail}`));
    });
  });
}
