import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type ConnectorManifest,
  expectedPackageFolder,
  type FunctionDefinition,
  isFunctionDefinition,
  isSinkDefinition,
  isSourceDefinition,
  readConnectorManifest,
  type SinkDefinition,
  type SourceDefinition,
} from "@pulsar-connect/core/host";

/** A connector found by discovery (or registered directly). */
export interface DiscoveredConnector {
  kind: "source" | "sink";
  name: string;
  description: string;
  packageName: string;
  packageVersion: string;
  packageDir: string;
  /** The module whose default export is the definition; absent for definitions registered directly. */
  entryModule?: string;
  manifest: ConnectorManifest;
  definition: SinkDefinition | SourceDefinition;
  /** Fingerprint of the package.json and entry file; reload keeps connectors whose fingerprint is unchanged. */
  fingerprint: string;
}

/** A function package (a sink transform) found by discovery (or registered directly). */
export interface DiscoveredFunction extends Omit<DiscoveredConnector, "kind" | "definition"> {
  kind: "function";
  definition: FunctionDefinition;
}

/** A package that declares a manifest but could not be loaded, and why. */
export interface DiscoveryProblem {
  packageName: string;
  message: string;
}

/** Where to look for connector packages. */
export interface DiscoveryOptions {
  /** Folders with a package.json whose dependencies are scanned (the worker's install, a connectors folder). */
  hostDirs: string[];
  /** Load TypeScript sources through the `@pulsar-connect/source` export condition instead of dist. */
  preferSource?: boolean;
  /**
   * Read only each package's manifest when scanning; import a connector's module on {@link ConnectorCatalog.load}
   * (a worker that runs a few of many installed connectors holds only those). A module that cannot be imported or
   * is not a definition is then reported by `load`, and added to `problems`.
   */
  lazy?: boolean;
}

type ExportTarget = string | { [condition: string]: ExportTarget } | null | undefined;

function pickExport(target: ExportTarget, conditions: readonly string[]): string | undefined {
  if (typeof target === "string") return target;
  if (!target || typeof target !== "object") return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (condition === "types") continue;
    if (conditions.includes(condition)) {
      const picked = pickExport(value, conditions);
      if (picked) return picked;
    }
  }
  return undefined;
}

function entryOf(packageDir: string, packageJson: Record<string, unknown>, preferSource: boolean): string {
  const exportsField = packageJson.exports as Record<string, ExportTarget> | string | undefined;
  const root = typeof exportsField === "string" ? exportsField : exportsField?.["."];
  const distConditions = ["node", "import", "default"];
  const sourceConditions = ["@pulsar-connect/source", ...distConditions];
  const fromDist = pickExport(root, distConditions);
  const fromSource = pickExport(root, sourceConditions);
  const chosen =
    preferSource || !fromDist || !existsSync(join(packageDir, fromDist)) ? (fromSource ?? fromDist) : fromDist;
  const entry = chosen ?? (packageJson.main as string | undefined) ?? "index.js";
  return join(packageDir, entry);
}

function declaredDependencies(hostDir: string): string[] {
  const file = join(hostDir, "package.json");
  if (!existsSync(file)) return [];
  const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, string> | undefined>;
  return [
    ...new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.devDependencies ?? {}),
    ]),
  ];
}

/** Fingerprint of the content each entry file had when it was first imported under its plain URL. */
const firstImports = new Map<string, string>();

/**
 * The URL to import an entry file from. Node caches ES modules by URL for the life of the process, so changed
 * content gets its own URL (a query with its fingerprint) and runs; only the entry module is evaluated again,
 * modules it imports keep their first evaluation unless their own URLs change (as hashed build chunks do).
 */
function moduleUrl(entry: string, fingerprint: string): string {
  const url = pathToFileURL(entry).href;
  const first = firstImports.get(entry);
  if (first === undefined) firstImports.set(entry, fingerprint);
  return first === undefined || first === fingerprint ? url : `${url}?fingerprint=${fingerprint.slice(0, 16)}`;
}

async function loadPackage(
  hostDir: string,
  dependency: string,
  preferSource: boolean,
  lazy: boolean,
): Promise<Discovered | DiscoveryProblem | undefined> {
  const require = createRequire(join(resolve(hostDir), "package.json"));
  let packageJsonPath: string;
  try {
    packageJsonPath = require.resolve(`${dependency}/package.json`);
  } catch {
    return undefined;
  }
  const found = readPackageFile(packageJsonPath, dependency, preferSource);
  if (!found || !("entry" in found)) return found;
  return lazy ? unloaded(found) : await importDefinition(found);
}

type Discovered = DiscoveredConnector | DiscoveredFunction;

/** What a package's manifest and files say, before its module is imported. */
interface PackageFound {
  manifest: ConnectorManifest;
  packageName: string;
  packageVersion: string;
  packageDir: string;
  entry: string;
  fingerprint: string;
}

/** Marks a discovered entry whose module is not imported yet; its `definition` throws until it is. */
const NOT_LOADED = Symbol("not loaded");

function unloaded(found: PackageFound): Discovered {
  const entry = {
    kind: found.manifest.kind,
    name: found.manifest.name,
    description: found.manifest.description,
    packageName: found.packageName,
    packageVersion: found.packageVersion,
    packageDir: found.packageDir,
    entryModule: found.entry,
    manifest: found.manifest,
    fingerprint: found.fingerprint,
    [NOT_LOADED]: found,
  };
  Object.defineProperty(entry, "definition", {
    enumerable: true,
    get(): never {
      throw new Error(`${found.manifest.kind} '${found.manifest.name}' is not loaded yet (ConnectorCatalog.load)`);
    },
  });
  return entry as unknown as Discovered;
}

function pendingImport(entry: Discovered): PackageFound | undefined {
  return (entry as unknown as { [NOT_LOADED]?: PackageFound })[NOT_LOADED];
}

/**
 * Loads the connector of one installed package folder (an uploaded package the worker installed, say): checks the
 * manifest, imports the entry, checks the brand. Undefined when the package declares no connector manifest.
 */
export async function loadConnectorPackage(
  packageDir: string,
  options: { preferSource?: boolean } = {},
): Promise<DiscoveredConnector | DiscoveryProblem | undefined> {
  const found = readPackageFile(join(resolve(packageDir), "package.json"), packageDir, options.preferSource ?? false);
  const loaded = found && "entry" in found ? await importDefinition(found) : found;
  if (loaded && "kind" in loaded && loaded.kind === "function") {
    return { packageName: loaded.packageName, message: "is a transform function package, not a connector" };
  }
  return loaded as DiscoveredConnector | DiscoveryProblem | undefined;
}

function readPackageFile(
  packageJsonPath: string,
  dependency: string,
  preferSource: boolean,
): PackageFound | DiscoveryProblem | undefined {
  const raw = readFileSync(packageJsonPath, "utf8");
  const packageJson = JSON.parse(raw) as Record<string, unknown>;
  let manifest: ConnectorManifest | undefined;
  try {
    manifest = readConnectorManifest(packageJson);
  } catch (error) {
    return { packageName: dependency, message: (error as Error).message };
  }
  if (!manifest) return undefined;
  const packageName = String(packageJson.name ?? dependency);
  if (packageName.startsWith("@pulsar-connect/")) {
    const folder = packageName.slice("@pulsar-connect/".length);
    if (folder !== expectedPackageFolder(manifest)) {
      return {
        packageName,
        message: `package name ${packageName} does not match its manifest (${manifest.kind} '${manifest.name}' must be published as @pulsar-connect/${expectedPackageFolder(manifest)})`,
      };
    }
  }
  const packageDir = dirname(packageJsonPath);
  const entry = entryOf(packageDir, packageJson, preferSource);
  const fingerprint = createHash("sha256")
    .update(raw)
    .update(existsSync(entry) ? readFileSync(entry) : "")
    .digest("hex");
  return {
    manifest,
    packageName,
    packageVersion: String(packageJson.version ?? "0.0.0"),
    packageDir,
    entry,
    fingerprint,
  };
}

/** Imports a package's entry and checks that its default export is the definition its manifest announces. */
async function importDefinition(found: PackageFound): Promise<Discovered | DiscoveryProblem> {
  const { manifest, packageName, entry, fingerprint } = found;
  let module: { default?: unknown };
  try {
    module = (await import(moduleUrl(entry, fingerprint))) as { default?: unknown };
  } catch (error) {
    return { packageName, message: `cannot be imported from ${entry}: ${(error as Error).message}` };
  }
  const definition = module.default;
  const branded = BRAND_CHECKS[manifest.kind](definition);
  if (!branded) {
    return {
      packageName,
      message: `default export is not a ${manifest.kind} definition (use ${DEFINE_CALLS[manifest.kind]}() from @pulsar-connect/core)`,
    };
  }
  const typed = definition as SinkDefinition | SourceDefinition | FunctionDefinition;
  if (typed.name !== manifest.name) {
    return {
      packageName,
      message: `manifest name '${manifest.name}' differs from the definition's name '${typed.name}'`,
    };
  }
  return {
    kind: manifest.kind,
    name: manifest.name,
    description: manifest.description,
    packageName,
    packageVersion: found.packageVersion,
    packageDir: found.packageDir,
    entryModule: entry,
    manifest,
    definition: typed,
    fingerprint,
  } as DiscoveredConnector | DiscoveredFunction;
}

const BRAND_CHECKS: Readonly<Record<ConnectorManifest["kind"], (value: unknown) => boolean>> = {
  sink: isSinkDefinition,
  source: isSourceDefinition,
  function: isFunctionDefinition,
};

const DEFINE_CALLS: Readonly<Record<ConnectorManifest["kind"], string>> = {
  sink: "defineSink",
  source: "defineSource",
  function: "defineFunction",
};

/**
 * Orders by name. Manifest names are lowercase letters, digits and dashes, whose code-unit order is their locale
 * order; `localeCompare` would load the ICU collator (a few MB) into every worker for this.
 */
function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** What changed on {@link ConnectorCatalog.reload}. */
export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

/** The connectors a worker can run: discovered from installed packages, or registered directly. */
export class ConnectorCatalog {
  private connectors: Map<string, DiscoveredConnector | DiscoveredFunction> = new Map();
  /** Packages that declare a manifest but were refused, with the reason. */
  problems: DiscoveryProblem[] = [];
  private readonly options: DiscoveryOptions | undefined;
  private readonly loading = new Map<string, Promise<Discovered | DiscoveryProblem>>();

  constructor(options?: DiscoveryOptions) {
    this.options = options;
  }

  /** Scans the host folders' dependencies for connector packages. */
  static async discover(options: DiscoveryOptions): Promise<ConnectorCatalog> {
    const catalog = new ConnectorCatalog(options);
    await catalog.reload();
    return catalog;
  }

  /** A catalog of the given definitions, for localrun and tests. */
  static of(definitions: Array<SinkDefinition | SourceDefinition | FunctionDefinition>): ConnectorCatalog {
    const catalog = new ConnectorCatalog();
    for (const definition of definitions) {
      const kind = isSinkDefinition(definition) ? "sink" : isFunctionDefinition(definition) ? "function" : "source";
      catalog.connectors.set(`${kind}:${definition.name}`, {
        kind,
        name: definition.name,
        description: definition.description,
        packageName: `(inline) ${definition.name}`,
        packageVersion: "0.0.0",
        packageDir: "",
        manifest: { manifestVersion: 1, kind, name: definition.name, description: definition.description },
        definition,
        fingerprint: "inline",
      } as DiscoveredConnector | DiscoveredFunction);
    }
    return catalog;
  }

  /** Re-scans the host folders. Connectors whose package did not change keep their loaded definition. */
  async reload(): Promise<ReloadResult> {
    const result: ReloadResult = { added: [], removed: [], changed: [], unchanged: [] };
    if (!this.options) return { ...result, unchanged: [...this.connectors.keys()] };
    const found = new Map<string, DiscoveredConnector | DiscoveredFunction>();
    const problems: DiscoveryProblem[] = [];
    const preferSource = this.options.preferSource ?? process.env.PULSAR_CONNECT_PREFER_SOURCE === "1";
    const lazy = this.options.lazy ?? false;
    for (const hostDir of this.options.hostDirs) {
      for (const dependency of declaredDependencies(hostDir)) {
        const loaded = await loadPackage(hostDir, dependency, preferSource, lazy);
        if (!loaded) continue;
        if (!("definition" in loaded)) {
          problems.push(loaded);
          continue;
        }
        const key = `${loaded.kind}:${loaded.name}`;
        const previous = found.get(key);
        if (previous && previous.packageName !== loaded.packageName) {
          problems.push({
            packageName: loaded.packageName,
            message: `duplicate ${loaded.kind} '${loaded.name}': already provided by ${previous.packageName}; keeping the first`,
          });
          continue;
        }
        const existing = this.connectors.get(key);
        found.set(key, existing && existing.fingerprint === loaded.fingerprint ? existing : loaded);
      }
    }
    for (const [key, connector] of found) {
      const existing = this.connectors.get(key);
      if (!existing) result.added.push(key);
      else if (existing.fingerprint !== connector.fingerprint) result.changed.push(key);
      else result.unchanged.push(key);
    }
    for (const key of this.connectors.keys()) if (!found.has(key)) result.removed.push(key);
    this.connectors = found;
    this.problems = problems;
    return result;
  }

  /**
   * Imports the module of a connector or function discovered lazily (once; later calls answer at once) and
   * returns it loaded; undefined when no such connector is installed. Throws when its module cannot be imported
   * or is not the definition its manifest announces (the reason also goes to `problems`).
   */
  async load(kind: "source" | "sink" | "function", name: string): Promise<Discovered | undefined> {
    const key = `${kind}:${name}`;
    const entry = this.connectors.get(key);
    const pending = entry && pendingImport(entry);
    if (!entry || !pending) return entry;
    let loading = this.loading.get(key);
    if (!loading) {
      loading = importDefinition(pending);
      this.loading.set(key, loading);
    }
    const loaded = await loading.finally(() => this.loading.delete(key));
    if (!("definition" in loaded)) {
      if (!this.problems.some((problem) => problem.message === loaded.message)) this.problems.push(loaded);
      throw new Error(`${loaded.packageName} ${loaded.message}`);
    }
    // A reload may have replaced the entry meanwhile: only the entry that was imported is swapped.
    if (this.connectors.get(key) === entry) this.connectors.set(key, loaded);
    return loaded;
  }

  /** Whether the connector or function is installed and its module imported. */
  isLoaded(kind: "source" | "sink" | "function", name: string): boolean {
    const entry = this.connectors.get(`${kind}:${name}`);
    return entry !== undefined && pendingImport(entry) === undefined;
  }

  /** Whether the connector or function is installed and its module not imported yet. */
  isPending(kind: "source" | "sink" | "function", name: string): boolean {
    const entry = this.connectors.get(`${kind}:${name}`);
    return entry !== undefined && pendingImport(entry) !== undefined;
  }

  /** Every connector of a kind, sorted by name. */
  list(kind: "source" | "sink"): DiscoveredConnector[] {
    return [...this.connectors.values()].filter((c): c is DiscoveredConnector => c.kind === kind).sort(byName);
  }

  /** The connector `name` of a kind, or undefined. */
  get(kind: "source" | "sink", name: string): DiscoveredConnector | undefined {
    const found = this.connectors.get(`${kind}:${name}`);
    return found?.kind === kind ? (found as DiscoveredConnector) : undefined;
  }

  /** Every function package (sink transform), sorted by name. */
  functions(): DiscoveredFunction[] {
    return [...this.connectors.values()].filter((c): c is DiscoveredFunction => c.kind === "function").sort(byName);
  }

  /** The function `name`, or undefined. */
  getFunction(name: string): DiscoveredFunction | undefined {
    const found = this.connectors.get(`function:${name}`);
    return found?.kind === "function" ? found : undefined;
  }
}
