import { realpathSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { WorkerError } from "../errors.ts";

/** What an `archive` value refers to. */
export type ArchiveKind = "builtin" | "url" | "upload" | "other";

const UPLOAD_PREFIX = "upload://";
const FETCH_TIMEOUT_MS = 120_000;

/** Classifies an archive: `builtin://name`, an `http(s)://`/`file://` URL, an uploaded package, anything else. */
export function archiveKind(archive: string): ArchiveKind {
  if (archive.startsWith("builtin://")) return "builtin";
  if (/^(https?|file):\/\//i.test(archive)) return "url";
  if (archive.startsWith(UPLOAD_PREFIX)) return "upload";
  return "other";
}

/** The `archive` shown for an uploaded package: where it came from and which package it is. */
export function uploadArchive(packageName: string, version: string): string {
  return `${UPLOAD_PREFIX}${packageName}@${version}`;
}

function tooLarge(what: string, size: number | string, maxBytes: number): WorkerError {
  return new WorkerError(
    "PAYLOAD_TOO_LARGE",
    `Connector package ${what} is ${size} bytes, more than the worker's maxPackageBytes (${maxBytes})`,
  );
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && rel.split(sep)[0] !== ".." && !isAbsolute(rel);
}

/**
 * Reads the tarball an `http(s)://` or `file://` archive names. `file://` reads only inside the worker's `fileDirs`
 * (after resolving links); every read stops at `maxBytes`.
 */
export async function fetchArchive(url: string, settings: { fileDirs?: string[]; maxBytes: number }): Promise<Buffer> {
  if (/^file:\/\//i.test(url)) return await readLocal(url, settings);
  let response: Response;
  try {
    response = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new WorkerError(
      "BAD_PACKAGE",
      `Cannot fetch the connector package from ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new WorkerError("BAD_PACKAGE", `Cannot fetch the connector package from ${url}: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > settings.maxBytes) {
    await response.body?.cancel();
    throw tooLarge(`at ${url}`, declared, settings.maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > settings.maxBytes) throw tooLarge(`at ${url}`, `more than ${settings.maxBytes}`, settings.maxBytes);
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks);
}

async function readLocal(url: string, settings: { fileDirs?: string[]; maxBytes: number }): Promise<Buffer> {
  const dirs = settings.fileDirs ?? [];
  if (dirs.length === 0) {
    throw new WorkerError(
      "FORBIDDEN",
      `file:// connector packages are read only from the worker's fileDirs, and this worker sets none`,
    );
  }
  let path: string;
  try {
    path = realpathSync(fileURLToPath(url));
  } catch {
    throw new WorkerError("BAD_PACKAGE", `Cannot read the connector package ${url}: no such file`);
  }
  const allowed = dirs.some((dir) => {
    try {
      return inside(realpathSync(resolve(dir)), path);
    } catch {
      return false;
    }
  });
  if (!allowed) {
    throw new WorkerError(
      "FORBIDDEN",
      `${url} is outside the worker's fileDirs; connector packages are read only from there`,
    );
  }
  const info = await stat(path);
  if (!info.isFile()) throw new WorkerError("BAD_PACKAGE", `${url} is not a file`);
  if (info.size > settings.maxBytes) throw tooLarge(url, info.size, settings.maxBytes);
  return await readFile(path);
}
