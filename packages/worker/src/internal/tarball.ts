import { posix } from "node:path";
import { gunzipSync } from "node:zlib";
import { WorkerError } from "../errors.ts";

/** What an npm package tarball holds, once checked: its root folder and its package.json. */
export interface TarballContents {
  /** The single top folder of every entry (`package` in `npm pack` output). */
  root: string;
  /** The parsed `<root>/package.json`. */
  packageJson: Record<string, unknown>;
  /** Number of entries. */
  entries: number;
}

const BLOCK = 512;

function refused(message: string): WorkerError {
  return new WorkerError("BAD_PACKAGE", `Connector package refused: ${message}`);
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function octal(block: Buffer, start: number, length: number): number {
  if (((block[start] ?? 0) & 0x80) !== 0) throw refused("a tar entry uses a base-256 size (too large)");
  const value = text(block, start, length).trim();
  if (value === "") return 0;
  if (!/^[0-7]+$/.test(value)) throw refused("a tar header is corrupt (size field)");
  return Number.parseInt(value, 8);
}

/** The `path`/`linkpath` records of a pax extended header. */
function paxRecords(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(data.subarray(offset, space).toString("ascii"));
    if (!Number.isInteger(length) || length <= 0) throw refused("a pax header is corrupt");
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return records;
}

/** A relative, normalized entry path, or a refusal naming it: no absolute paths, no `..`. */
function safePath(raw: string): string {
  const path = raw.replace(/\\/g, "/");
  if (path.startsWith("/") || /^[a-zA-Z]:/.test(path)) throw refused(`entry '${raw}' has an absolute path`);
  if (path.split("/").includes("..")) throw refused(`entry '${raw}' leaves the package folder ('..')`);
  const normalized = posix.normalize(path).replace(/\/+$/, "");
  if (normalized === "." || normalized === "") throw refused(`entry '${raw}' has no name`);
  return normalized;
}

/**
 * Checks an npm package tarball (gzip'd tar) without extracting it: every entry stays inside one top folder, links
 * point inside it, no device or fifo entries, and `<root>/package.json` is JSON. Refusals are BAD_PACKAGE errors
 * that say why. `maxBytes` bounds the unpacked size (a small gzip can expand enormously).
 */
export function inspectTarball(gzipped: Uint8Array, maxBytes: number): TarballContents {
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw refused(`it unpacks to more than ${maxBytes} bytes`);
    }
    throw refused("it is not a gzip'd tar file (make one with `npm pack`)");
  }
  let root: string | undefined;
  let packageJsonText: string | undefined;
  let entries = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  const symlinks = new Set<string>();
  /** Entry paths and hard link targets: none may lie under a symlink (writing through it could leave the folder). */
  const paths: string[] = [];
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    if (text(header, 257, 5) !== "ustar") throw refused("it is not a tar file (no ustar header)");
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + BLOCK;
    const data = tar.subarray(dataStart, dataStart + size);
    if (data.length < size) throw refused("it ends in the middle of an entry");
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      pax = paxRecords(data);
      continue;
    }
    if (type === "g") continue;
    if (type === "L" || type === "K") {
      const value = data.toString("utf8").replace(/\0+$/, "");
      if (type === "L") longName = value;
      else longLink = value;
      continue;
    }
    const prefix = text(header, 345, 155);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    const linkTarget = pax.linkpath ?? longLink ?? text(header, 157, 100);
    pax = {};
    longName = undefined;
    longLink = undefined;
    const path = safePath(name);
    entries += 1;
    const top = path.split("/")[0] as string;
    if (root === undefined) root = top;
    else if (top !== root) throw refused(`entries lie in more than one top folder ('${root}' and '${top}')`);
    paths.push(path);
    if (type === "2") {
      if (linkTarget.startsWith("/")) throw refused(`symlink '${name}' points to the absolute path '${linkTarget}'`);
      const segments = linkTarget.split("/");
      const firstName = segments.findIndex((segment) => segment !== "..");
      if (firstName !== -1 && segments.slice(firstName).includes("..")) {
        throw refused(`symlink '${name}' goes up ('..') after a folder name ('${linkTarget}')`);
      }
      symlinks.add(path);
      const target = posix.normalize(posix.join(posix.dirname(path), linkTarget));
      if (target !== root && !target.startsWith(`${root}/`)) {
        throw refused(`symlink '${name}' points out of the package folder ('${linkTarget}')`);
      }
    } else if (type === "1") {
      const target = safePath(linkTarget);
      if (!target.startsWith(`${root}/`)) throw refused(`hard link '${name}' points out of the package folder`);
      paths.push(target);
    } else if (type !== "0" && type !== "\0" && type !== "5" && type !== "7") {
      throw refused(`entry '${name}' is not a file, folder or link (tar type '${type}')`);
    }
    if (path === `${root}/package.json` && (type === "0" || type === "\0" || type === "7")) {
      packageJsonText = data.toString("utf8");
    }
  }
  for (const path of paths) {
    const parts = path.split("/");
    for (let length = 1; length < parts.length; length += 1) {
      const ancestor = parts.slice(0, length).join("/");
      if (symlinks.has(ancestor)) throw refused(`entry '${path}' lies under the symlink '${ancestor}'`);
    }
  }
  if (root === undefined) throw refused("the tarball is empty");
  if (packageJsonText === undefined) throw refused(`it has no package.json in its top folder '${root}'`);
  let packageJson: unknown;
  try {
    packageJson = JSON.parse(packageJsonText);
  } catch {
    throw refused("its package.json is not valid JSON");
  }
  if (!packageJson || typeof packageJson !== "object" || Array.isArray(packageJson)) {
    throw refused("its package.json is not a JSON object");
  }
  return { root, packageJson: packageJson as Record<string, unknown>, entries };
}
