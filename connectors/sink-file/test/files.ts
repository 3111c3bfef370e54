import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];

/** A new empty directory, removed by {@link removeDirectories}. */
export function freshDirectory(prefix = "file-sink"): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every directory made by {@link freshDirectory}. */
export function removeDirectories(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Names of the finished files (in-progress files start with a dot). */
export const finishedFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => !name.startsWith("."))
    .sort();

/** Contents of the finished files, in name order. */
export const finishedContents = (dir: string): string[] =>
  finishedFiles(dir).map((name) => readFileSync(join(dir, name), "utf8"));
