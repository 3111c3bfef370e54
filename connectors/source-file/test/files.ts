import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];

/** A new empty directory, removed by {@link removeDirectories}. */
export function freshDirectory(prefix = "file-source"): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every directory made by {@link freshDirectory}. */
export function removeDirectories(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let written = 0;

/** Writes a file whole (under a hidden name, then renamed), so the source never sees it half written. */
export function dropFile(dir: string, name: string, content: string | Buffer): string {
  const hidden = join(dir, `.${name}.${process.pid}.${written++}.part`);
  writeFileSync(hidden, content);
  const path = join(dir, name);
  renameSync(hidden, path);
  return path;
}

/** One JSON line per id. */
export const jsonLines = (ids: number[]): string => ids.map((id) => `${JSON.stringify({ id })}\n`).join("");

/** Visible files left in a directory (not recursive). */
export const visibleFiles = (dir: string): string[] => readdirSync(dir).filter((name) => !name.startsWith("."));
