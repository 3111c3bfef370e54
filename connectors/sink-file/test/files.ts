import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = (inject("services" as never) as { pulsar?: { serviceUrl: string; webServiceUrl: string } }).pulsar;
  return {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

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
