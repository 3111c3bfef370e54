import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readConnectorManifest } from "@pulsar-connect/core/host";
import { type DiscoveredConnector, loadConnectorPackage } from "@pulsar-connect/runtime";
import { WorkerError } from "../errors.ts";
import { inspectTarball } from "./tarball.ts";

type Kind = "sink" | "source";

/** A connector package the worker installed from a tarball, ready to run. */
export interface InstalledPackage {
  /** `sha512-<base64>` of the tarball (npm's integrity notation): what the store records and restore checks. */
  integrity: string;
  /** The content-addressed folder the worker owns: the tarball and the package's private node_modules. */
  dir: string;
  /** Folder of the connector package itself (its package.json): what a runtime loads the connector from. */
  packageDir: string;
  packageName: string;
  version: string;
  /** Size of the tarball in bytes. */
  bytes: number;
  connector: DiscoveredConnector;
}

/** Settings of {@link ConnectorPackages}. */
export interface PackageSettings {
  /** Folder the installed packages live in, one content-addressed subfolder each. */
  root: string;
  /** Largest accepted tarball in bytes. */
  maxBytes: number;
  /** The npm command (`npm`). */
  npmCommand?: string;
}

const TARBALL = "package.tgz";
const MARKER = "installed.json";
const NPM_TIMEOUT_MS = 180_000;
/** How much larger than the tarball its unpacked content may be. */
export const UNPACK_RATIO: number = 20;
/** npm's rule for package names; it also keeps the name a safe relative path under node_modules. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;
const CORE = "@pulsar-connect/core";

function refused(message: string): WorkerError {
  return new WorkerError("BAD_PACKAGE", `Connector package refused: ${message}`);
}

/** The sha512 integrity of a tarball, as npm writes it. */
export function integrityOf(tarball: Uint8Array): string {
  return `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
}

/** The folder name of an integrity: its digest in hex (content-addressed, safe in paths). */
function folderOf(integrity: string): string {
  const match = /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(integrity);
  if (!match) throw new WorkerError("BAD_PACKAGE", `'${integrity}' is not a sha512 integrity`);
  return Buffer.from(match[1] as string, "base64").toString("hex");
}

/** Folder of the core package this worker runs with, provided to installed connectors as their peer dependency. */
function coreDir(): string {
  return dirname(createRequire(import.meta.url).resolve(`${CORE}/package.json`));
}

function runNpm(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      {
        cwd,
        timeout: NPM_TIMEOUT_MS,
        maxBuffer: 8 * 1024 * 1024,
        env: { ...process.env, npm_config_update_notifier: "false" },
      },
      (error, _stdout, stderr) => {
        if (!error) return done();
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          fail(
            new WorkerError(
              "INSTALL_FAILED",
              `Connector packages need npm, and '${command}' is not on the worker's PATH`,
              { cause: error },
            ),
          );
          return;
        }
        const lines = String(stderr)
          .split("\n")
          .filter((line) => /ERR!|error/i.test(line))
          .slice(0, 8)
          .join("\n");
        fail(
          new WorkerError(
            "INSTALL_FAILED",
            `Connector package could not be installed (npm install failed${(error as { killed?: boolean }).killed ? " after a timeout" : ""}): ${lines || error.message}`,
            { cause: error },
          ),
        );
      },
    );
  });
}

/**
 * The connector packages a worker installed from tarballs (uploaded, or fetched from a URL): verified, installed
 * with their dependencies into a content-addressed folder under the worker's data folder, loaded from there.
 */
export class ConnectorPackages {
  private readonly settings: PackageSettings;
  /** Installs and loads under way or done, by folder: one at a time per content. */
  private readonly loading: Map<string, Promise<InstalledPackage>> = new Map();

  constructor(settings: PackageSettings) {
    this.settings = settings;
  }

  /** Verifies a tarball (size, entries, manifest, kind), installs it unless already there, and loads its connector. */
  async add(tarball: Uint8Array, kind: Kind): Promise<InstalledPackage> {
    if (tarball.length > this.settings.maxBytes) {
      throw new WorkerError(
        "PAYLOAD_TOO_LARGE",
        `Connector package is ${tarball.length} bytes, more than the worker's maxPackageBytes (${this.settings.maxBytes})`,
      );
    }
    const integrity = integrityOf(tarball);
    const contents = inspectTarball(tarball, this.settings.maxBytes * UNPACK_RATIO);
    const { name, version } = checkPackageJson(contents.packageJson, kind);
    return await this.load(integrity, name, version, tarball.length, kind, () =>
      this.prepare(integrity, tarball, name, version),
    );
  }

  /**
   * Loads a package a stored connector refers to: checks the kept tarball against the recorded integrity, and
   * installs it again when its folder is incomplete.
   */
  async restore(integrity: string, kind: Kind): Promise<InstalledPackage> {
    const dir = join(this.settings.root, folderOf(integrity));
    let tarball: Buffer;
    try {
      tarball = await readFile(join(dir, TARBALL));
    } catch {
      throw new WorkerError("BAD_PACKAGE", `Connector package ${integrity} is missing from ${dir}; upload it again`);
    }
    if (integrityOf(tarball) !== integrity) {
      throw new WorkerError(
        "BAD_PACKAGE",
        `Connector package in ${dir} fails its integrity check (its sha512 differs from the one recorded at upload); upload it again`,
      );
    }
    const { name, version } = checkPackageJson(
      inspectTarball(tarball, tarball.length * UNPACK_RATIO).packageJson,
      kind,
    );
    return await this.load(integrity, name, version, tarball.length, kind, () =>
      this.prepare(integrity, tarball, name, version),
    );
  }

  /** Removes an installed package's folder (the caller knows no connector uses it any more). */
  async remove(integrity: string): Promise<void> {
    const folder = folderOf(integrity);
    this.loading.delete(folder);
    await rm(join(this.settings.root, folder), { recursive: true, force: true });
  }

  /** Removes folders no stored connector refers to (left by a crash between install and store) and unfinished installs. */
  async prune(keep: Iterable<string>): Promise<void> {
    const kept = new Set([...keep].map(folderOf));
    if (!existsSync(this.settings.root)) return;
    for (const entry of await readdir(this.settings.root)) {
      if (!kept.has(entry) && !this.loading.has(entry)) {
        await rm(join(this.settings.root, entry), { recursive: true, force: true });
      }
    }
  }

  /** Whether this worker keeps the tarball of an integrity (installed, or left to install again). */
  has(integrity: string): boolean {
    return existsSync(join(this.settings.root, folderOf(integrity), TARBALL));
  }

  /** The folder of an integrity (for tests and tools). */
  dirOf(integrity: string): string {
    return join(this.settings.root, folderOf(integrity));
  }

  private load(
    integrity: string,
    name: string,
    version: string,
    bytes: number,
    kind: Kind,
    prepare: () => Promise<void>,
  ): Promise<InstalledPackage> {
    const folder = folderOf(integrity);
    const existing = this.loading.get(folder);
    if (existing) return existing.then((installed) => checkKind(installed, kind));
    const dir = join(this.settings.root, folder);
    const loading = (async (): Promise<InstalledPackage> => {
      await prepare();
      const packageDir = join(dir, "node_modules", name);
      const loaded = await loadConnectorPackage(packageDir);
      if (!loaded) throw refused(`${name} has no pulsarConnector manifest after installation`);
      if (!("definition" in loaded)) throw refused(loaded.message);
      return { integrity, dir, packageDir, packageName: name, version, bytes, connector: loaded };
    })();
    this.loading.set(folder, loading);
    loading.catch(() => {
      if (this.loading.get(folder) === loading) this.loading.delete(folder);
    });
    return loading.then((installed) => checkKind(installed, kind));
  }

  /** Installs the package unless its folder holds a complete install of the same tarball. */
  private async prepare(integrity: string, tarball: Uint8Array, name: string, version: string): Promise<void> {
    const dir = join(this.settings.root, folderOf(integrity));
    const kept = await readFile(join(dir, TARBALL)).catch(() => undefined);
    if (existsSync(join(dir, MARKER)) && kept && integrityOf(kept) === integrity) await linkCore(dir);
    else await this.install(integrity, tarball, name, version);
  }

  /** Installs into a fresh folder, then moves it into place: a crash never leaves a half-installed package in use. */
  private async install(integrity: string, tarball: Uint8Array, name: string, version: string): Promise<void> {
    const final = join(this.settings.root, folderOf(integrity));
    await mkdir(this.settings.root, { recursive: true });
    const temp = join(this.settings.root, `.tmp-${randomUUID()}`);
    await mkdir(temp);
    try {
      await writeFile(join(temp, TARBALL), tarball);
      await writeFile(join(temp, "package.json"), `${JSON.stringify({ private: true })}\n`);
      await runNpm(
        this.settings.npmCommand ?? "npm",
        [
          "install",
          "--prefix",
          temp,
          "--omit=dev",
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          // The worker provides @pulsar-connect/core; other peers are the package's own business.
          "--legacy-peer-deps",
          `./${TARBALL}`,
        ],
        temp,
      );
      if (!existsSync(join(temp, "node_modules", name, "package.json"))) {
        throw refused(`npm did not install ${name} from the tarball`);
      }
      await linkCore(temp);
      await writeFile(join(temp, MARKER), `${JSON.stringify({ integrity, name, version })}\n`);
      await rm(final, { recursive: true, force: true });
      await rename(temp, final);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
}

/** Makes the worker's core resolvable from the package (a link, replaced when the worker moved or was upgraded). */
async function linkCore(dir: string): Promise<void> {
  const link = join(dir, "node_modules", CORE);
  const target = coreDir();
  const current = await readlink(link).catch(() => undefined);
  if (current === target) return;
  if (current === undefined && existsSync(join(link, "package.json"))) return;
  await rm(link, { recursive: true, force: true });
  await mkdir(dirname(link), { recursive: true });
  await symlink(target, link, "dir");
}

function checkPackageJson(packageJson: Record<string, unknown>, kind: Kind): { name: string; version: string } {
  const name = packageJson.name;
  if (typeof name !== "string" || !PACKAGE_NAME.test(name)) {
    throw refused(`its package.json has no valid npm package name (got ${JSON.stringify(name ?? null)})`);
  }
  let manifest: ReturnType<typeof readConnectorManifest>;
  try {
    manifest = readConnectorManifest(packageJson);
  } catch (error) {
    throw refused((error as Error).message);
  }
  if (!manifest) {
    throw refused(`the package.json of ${name} has no "pulsarConnector" manifest, so it is not a connector package`);
  }
  if (manifest.kind !== kind) {
    throw refused(`${name} is a ${manifest.kind} connector ('${manifest.name}'), not a ${kind}`);
  }
  return { name, version: typeof packageJson.version === "string" ? packageJson.version : "0.0.0" };
}

function checkKind(installed: InstalledPackage, kind: Kind): InstalledPackage {
  if (installed.connector.kind !== kind) {
    throw refused(`${installed.packageName} is a ${installed.connector.kind} connector, not a ${kind}`);
  }
  return installed;
}
