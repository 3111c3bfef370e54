import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConnectorPackages, fetchArchive, type InstalledPackage } from "@pulsar-connect/worker";
import { CliError } from "../errors.ts";

type Kind = "sink" | "source";

/** A connector package made ready to send: the tarball's bytes and the file name it is sent under. */
export interface PackageTarball {
  bytes: Buffer;
  fileName: string;
}

/** Largest package localrun installs (the worker's default maxPackageBytes). */
const LOCAL_MAX_BYTES = 50 * 1024 * 1024;

/** Whether an archive is a URL the worker fetches itself (or a builtin://), rather than a file on this machine. */
export function isRemoteArchive(archive: string): boolean {
  return /^(builtin|https?|file):\/\//i.test(archive);
}

/** Refuses an archive that is neither builtin://, an http(s)/file URL, nor an existing local file or folder. */
export function checkArchiveValue(archive: string): void {
  if (isRemoteArchive(archive)) return;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(archive)) {
    throw new CliError("USAGE", `Archive '${archive}': the ${archive.split(":")[0]}:// scheme is not supported`, {
      hint: "Give builtin://<name>, an http(s):// or file:// URL, an npm package tarball or a package folder.",
    });
  }
  if (!existsSync(archive)) throw new CliError("USAGE", `Archive file ${archive} does not exist`);
}

function npmPack(dir: string, destination: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile("npm", ["pack", "--pack-destination", destination, "--silent"], { cwd: dir }, (error, _out, stderr) => {
      if (error) fail(new CliError("FAILED", `npm pack of ${dir} failed: ${String(stderr).trim() || error.message}`));
      else done();
    });
  });
}

/** The tarball of a local archive: the file itself, or `npm pack` of a package folder. */
export async function localTarball(path: string): Promise<PackageTarball> {
  const full = resolve(path);
  if (!statSync(full).isDirectory()) return { bytes: await readFile(full), fileName: basename(full) };
  if (!existsSync(join(full, "package.json"))) {
    throw new CliError("USAGE", `Archive folder ${path} has no package.json`, {
      hint: "Give the folder of an npm package whose package.json declares a pulsarConnector manifest.",
    });
  }
  const destination = mkdtempSync(join(tmpdir(), "pulsar-connect-pack-"));
  try {
    await npmPack(full, destination);
    const packed = readdirSync(destination).find((file) => file.endsWith(".tgz"));
    if (!packed) throw new CliError("FAILED", `npm pack of ${path} made no tarball`);
    return { bytes: await readFile(join(destination, packed)), fileName: packed };
  } finally {
    await rm(destination, { recursive: true, force: true });
  }
}

/** Where localrun installs packages: content-addressed, so reused by later runs of the same package. */
function localPackagesDir(env: Record<string, string | undefined>): string {
  const cache = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "pulsar-connect", "packages");
}

/** Installs the package an archive names (local tarball or folder, http(s):// or file:// URL) for localrun. */
export async function installForLocalrun(
  kind: Kind,
  archive: string,
  env: Record<string, string | undefined>,
): Promise<InstalledPackage> {
  const packages = new ConnectorPackages({ root: localPackagesDir(env), maxBytes: LOCAL_MAX_BYTES });
  try {
    let bytes: Buffer;
    if (/^file:\/\//i.test(archive)) bytes = (await localTarball(fileURLToPath(archive))).bytes;
    else if (/^https?:\/\//i.test(archive)) bytes = await fetchArchive(archive, { maxBytes: LOCAL_MAX_BYTES });
    else bytes = (await localTarball(archive)).bytes;
    return await packages.add(bytes, kind);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError("INVALID_CONFIG", (error as Error).message, { cause: error });
  }
}
