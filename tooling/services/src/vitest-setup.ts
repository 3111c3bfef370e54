import type { TestProject } from "vitest/node";
import type { ServiceEndpoints } from "./internal/endpoints.ts";
import { servicesListedIn } from "./internal/manifest.ts";
import { ensureServices } from "./internal/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Endpoints of the servers listed in the project's test/services.json. */
    services: Partial<ServiceEndpoints>;
  }
}

/**
 * Global setup of every `<package>:integration` project: brings up (or reuses) the servers the package's
 * test/services.json lists. It never stops them: the top-level test command does, for what it started.
 */
export default async function setup(project: TestProject): Promise<void> {
  const names = servicesListedIn(project.config.root);
  const endpoints = names.length > 0 ? await ensureServices(names) : {};
  project.provide("services", endpoints);
}
