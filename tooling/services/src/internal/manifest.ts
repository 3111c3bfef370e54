import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseServiceNames, SERVICE_NAMES, type ServiceName } from "./config.ts";
import { ServicesError } from "./errors.ts";

/** Names listed in `<packageDir>/test/services.json` (a JSON array of server names); none when absent. */
export function servicesListedIn(packageDir: string): ServiceName[] {
  const file = join(packageDir, "test", "services.json");
  if (!existsSync(file)) return [];
  let names: unknown;
  try {
    names = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ServicesError("UNKNOWN_SERVICE", `${file} is not valid JSON`, { cause: error });
  }
  if (!Array.isArray(names) || !names.every((name) => typeof name === "string")) {
    throw new ServicesError("UNKNOWN_SERVICE", `${file} must be a JSON array of server names`);
  }
  return parseServiceNames(names);
}

export const WORKSPACE_GROUPS = ["packages", "connectors", "tooling"] as const;

/** Union of the servers every workspace package's test/services.json asks for, in start order. */
export function servicesOfWorkspace(root: string): ServiceName[] {
  const wanted = new Set<ServiceName>();
  for (const group of WORKSPACE_GROUPS) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      for (const name of servicesListedIn(join(base, entry.name))) wanted.add(name);
    }
  }
  return SERVICE_NAMES.filter((name) => wanted.has(name));
}
