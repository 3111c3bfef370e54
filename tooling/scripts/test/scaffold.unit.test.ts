import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  catalogEntries,
  changesetOf,
  connectorFiles,
  NAME_PATTERN,
  parseDependency,
  withCatalogEntry,
} from "../internal/scaffold.ts";

const workspaceYaml = readFileSync(join(import.meta.dirname, "../../../pnpm-workspace.yaml"), "utf8");

describe("new:connector arguments", () => {
  it("takes dash-separated lowercase words as a name", () => {
    expect(["my-store", "s3", "a1-b2-c3"].filter((name) => NAME_PATTERN.test(name))).toHaveLength(3);
    expect(["My-store", "my--store", "my-store-", "3d", "my_store", ""].filter((n) => NAME_PATTERN.test(n))).toEqual(
      [],
    );
  });

  it("reads --dependency as a package name with an optional range", () => {
    expect(parseDependency("pg")).toEqual({ name: "pg" });
    expect(parseDependency("my-client@^2.1.0")).toEqual({ name: "my-client", range: "^2.1.0" });
    expect(parseDependency("@scope/client")).toEqual({ name: "@scope/client" });
    expect(parseDependency("@scope/client@>=1 <2")).toEqual({ name: "@scope/client", range: ">=1 <2" });
    expect([parseDependency("Client"), parseDependency("client@"), parseDependency("a b")]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe("the pnpm catalog", () => {
  it("lists the entries of the repository's catalog, quoted names included", () => {
    const catalog = catalogEntries(workspaceYaml);
    expect(catalog.get("zod")).toMatch(/^\^?\d/);
    expect(catalog.get("@biomejs/biome")).toMatch(/^\d/);
    // onlyBuiltDependencies follows the catalog; its items are not entries.
    expect(catalog.has("better-sqlite3")).toBe(true);
    expect([...catalog.keys()].some((name) => name.startsWith("- "))).toBe(false);
  });

  it("appends an entry to the catalog and leaves the rest of the file as it was", () => {
    const updated = withCatalogEntry(withCatalogEntry(workspaceYaml, "my-client", "^2.1.0"), "@scope/lib", ">=1 <2");
    const catalog = catalogEntries(updated);
    expect(catalog.get("my-client")).toBe("^2.1.0");
    expect(catalog.get("@scope/lib")).toBe(">=1 <2");
    expect(updated.split("\n").filter((line) => !workspaceYaml.split("\n").includes(line))).toEqual([
      "  my-client: ^2.1.0",
      '  "@scope/lib": ">=1 <2"',
    ]);
    expect(updated.split("\n").filter((line) => !line.includes("my-client") && !line.includes("@scope/lib"))).toEqual(
      workspaceYaml.split("\n"),
    );
  });

  it("refuses a file without a catalog", () => {
    expect(() => withCatalogEntry("packages:\n  - packages/*\n", "x", "1.0.0")).toThrow(/no catalog/);
  });
});

describe("the scaffolded files", () => {
  it("declare the given dependencies and keep a description with quotes intact", () => {
    const description = 'Writes to "Acme" \\ stores';
    const files = connectorFiles({
      kind: "sink",
      name: "acme",
      description,
      dependencies: [
        { name: "zod", specifier: "catalog:" },
        { name: "@pulsar-connect/jdbc-common", specifier: "workspace:^" },
      ],
    });
    const packageJson = JSON.parse(files["package.json"] ?? "{}");
    expect(packageJson.dependencies).toEqual({ "@pulsar-connect/jdbc-common": "workspace:^", zod: "catalog:" });
    expect(packageJson.pulsarConnector).toMatchObject({ kind: "sink", name: "acme", description });
    expect(files["src/index.ts"]).toContain(`description: ${JSON.stringify(description)},`);
    expect(changesetOf({ kind: "sink", name: "acme" })).toEqual({
      file: "sink-acme.md",
      content: '---\n"@pulsar-connect/sink-acme": minor\n---\n\nNew sink connector `acme`: Writes records to Acme.\n',
    });
  });
});
