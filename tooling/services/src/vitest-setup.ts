import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { parseServiceNames } from "./internal/config.ts";
import type { ServiceEndpoints } from "./internal/endpoints.ts";
import { ServicesError } from "./internal/errors.ts";
import { ensureServices } from "./internal/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Endpoints of the servers listed in the project's test/services.json. */
    services: Partial<ServiceEndpoints>;
  }
}

/** Names listed in `<project root>/test/services.json` (a JSON array); none when the file is absent. */
export function requiredServices(projectRoot: string): ReturnType<typeof parseServiceNames> {
  const file = join(projectRoot, "test", "services.json");
  if (!existsSync(file)) return [];
  const names: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (!Array.isArray(names) || !names.every((name) => typeof name === "string")) {
    throw new ServicesError("UNKNOWN_SERVICE", `${file} must be a JSON array of server names`);
  }
  return parseServiceNames(names);
}

/**
 * Global setup of every `<package>:integration` project: brings up (or reuses) the servers the package's
 * test/services.json lists. It never stops them: the top-level test command does, for what it started.
 */
export default async function setup(project: TestProject): Promise<void> {
  const names = requiredServices(project.config.root);
  const endpoints = names.length > 0 ? await ensureServices(names) : {};
  project.provide("services", endpoints);
}
