import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

// Each workspace package gives two projects: `<name>` (unit tests next to the code) and
// `<name>:integration` (test/*.integration.test.ts against real servers). Source runs directly through the
// "@pulsar-connect/source" export condition, so nothing needs building before a test run.
// Only the custom condition and "node": Vite adds import/require/default by itself, per import kind. Listing
// "import" here makes CommonJS packages (pg, cassandra-driver) require the ESM build of their dependencies.
const conditions = ["@pulsar-connect/source", "node"];
const root = import.meta.dirname;

function packageDirs(): string[] {
  return ["packages", "connectors", "tooling"].flatMap((group) => {
    const base = join(root, group);
    if (!existsSync(base)) return [];
    return readdirSync(base)
      .map((entry) => join(base, entry))
      .filter(
        (dir) =>
          existsSync(join(dir, "package.json")) && (existsSync(join(dir, "src")) || existsSync(join(dir, "test"))),
      );
  });
}

function projectsOf(dir: string): TestProjectInlineConfiguration[] {
  const name = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string }).name.replace(
    "@pulsar-connect/",
    "",
  );
  const shared = {
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: conditions } },
  };
  return [
    {
      ...shared,
      test: { name, root: dir, include: ["src/**/*.test.ts", "test/**/*.unit.test.ts"], testTimeout: 20_000 },
    },
    {
      ...shared,
      test: {
        name: `${name}:integration`,
        root: dir,
        include: ["test/**/*.integration.test.ts"],
        globalSetup: [join(root, "tooling/services/src/vitest-setup.ts")],
        testTimeout: 120_000,
        hookTimeout: 300_000,
        fileParallelism: false,
      },
    },
  ];
}

export default defineConfig({
  test: {
    projects: packageDirs().flatMap(projectsOf),
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
