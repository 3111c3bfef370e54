import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConnectorCatalog } from "./discovery.ts";

function fakePackage(host: string, name: string, manifest: unknown, body: string): void {
  const dir = join(host, "node_modules", ...name.split("/"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name,
      version: "1.0.0",
      type: "module",
      exports: { ".": "./index.js", "./package.json": "./package.json" },
      pulsarConnector: manifest,
    }),
  );
  writeFileSync(join(dir, "index.js"), body);
}

const sinkModule = (name: string) =>
  `export default { $$type: "pulsar-connect.sink", apiVersion: 1, name: ${JSON.stringify(name)}, description: "d", config: {}, open() {} };\n`;

function host(dependencies: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "pc-discovery-"));
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "host", dependencies: Object.fromEntries(dependencies.map((d) => [d, "*"])) }),
  );
  return dir;
}

describe("ConnectorCatalog.discover", () => {
  it("finds connector packages among the host's dependencies and explains what it refused", async () => {
    const dir = host([
      "@pulsar-connect/sink-memory",
      "third-party-sink",
      "not-a-connector",
      "bad-manifest",
      "no-brand",
      "dup-sink",
    ]);
    const manifest = (name: string, kind = "sink") => ({ manifestVersion: 1, kind, name, description: `${name} sink` });
    fakePackage(dir, "@pulsar-connect/sink-memory", manifest("memory"), sinkModule("memory"));
    fakePackage(dir, "third-party-sink", manifest("elastic"), sinkModule("elastic"));
    fakePackage(dir, "not-a-connector", undefined, "export default 1;\n");
    fakePackage(dir, "bad-manifest", { manifestVersion: 1, kind: "pipe", name: "x", description: "" }, sinkModule("x"));
    fakePackage(dir, "no-brand", manifest("plain"), "export default { name: 'plain' };\n");
    fakePackage(dir, "dup-sink", manifest("memory"), sinkModule("memory"));

    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir] });
    expect(catalog.list("sink").map((c) => [c.name, c.packageName])).toEqual([
      ["elastic", "third-party-sink"],
      ["memory", "@pulsar-connect/sink-memory"],
    ]);
    expect(catalog.list("source")).toEqual([]);
    const problems = Object.fromEntries(catalog.problems.map((p) => [p.packageName, p.message]));
    expect(problems["bad-manifest"]).toMatch(/pulsarConnector.kind/);
    expect(problems["no-brand"]).toMatch(/not a sink definition/);
    expect(problems["dup-sink"]).toMatch(/duplicate sink 'memory'.*@pulsar-connect\/sink-memory/);
    expect(problems["not-a-connector"]).toBeUndefined();
  });

  it("lazy: reads only manifests, imports a module on load, and reports a module that is not a definition", async () => {
    const dir = host(["lazy-sink", "lazy-plain"]);
    const manifest = (name: string) => ({ manifestVersion: 1, kind: "sink", name, description: `${name} sink` });
    const marker = `lazyImported${Date.now()}`;
    fakePackage(dir, "lazy-sink", manifest("lazy"), `globalThis.${marker} = true;\n${sinkModule("lazy")}`);
    fakePackage(dir, "lazy-plain", manifest("plain"), "export default { name: 'plain' };\n");

    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir], lazy: true });
    expect(catalog.list("sink").map((c) => [c.name, c.description])).toEqual([
      ["lazy", "lazy sink"],
      ["plain", "plain sink"],
    ]);
    expect((globalThis as Record<string, unknown>)[marker]).toBeUndefined();
    expect(catalog.isLoaded("sink", "lazy")).toBe(false);
    expect(catalog.isPending("sink", "lazy")).toBe(true);
    expect(catalog.isPending("sink", "absent")).toBe(false);
    expect(() => catalog.get("sink", "lazy")?.definition).toThrow(/not loaded/);

    const loaded = await catalog.load("sink", "lazy");
    expect((globalThis as Record<string, unknown>)[marker]).toBe(true);
    expect(loaded?.kind === "sink" && loaded.definition.name).toBe("lazy");
    expect(catalog.isLoaded("sink", "lazy")).toBe(true);
    expect(catalog.isPending("sink", "lazy")).toBe(false);
    expect(catalog.get("sink", "lazy")?.definition.name).toBe("lazy");
    expect(await catalog.load("sink", "absent")).toBeUndefined();

    await expect(catalog.load("sink", "plain")).rejects.toThrow(/lazy-plain .*not a sink definition/);
    expect(catalog.problems.map((p) => p.packageName)).toEqual(["lazy-plain"]);
    expect((await catalog.reload()).unchanged).toEqual(["sink:lazy", "sink:plain"]);
    expect(catalog.isLoaded("sink", "lazy")).toBe(true);
  });

  it("refuses a scoped package whose name does not match its manifest", async () => {
    const dir = host(["@pulsar-connect/sink-wrong"]);
    fakePackage(
      dir,
      "@pulsar-connect/sink-wrong",
      { manifestVersion: 1, kind: "sink", name: "right", description: "d" },
      sinkModule("right"),
    );
    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir] });
    expect(catalog.list("sink")).toEqual([]);
    expect(catalog.problems[0]?.message).toMatch(/must be published as @pulsar-connect\/sink-right/);
  });

  it("reload keeps unchanged connectors and reports added, changed and removed ones", async () => {
    const dir = host(["a-sink", "b-sink"]);
    const manifest = (name: string) => ({ manifestVersion: 1, kind: "sink", name, description: "d" });
    fakePackage(dir, "a-sink", manifest("a"), sinkModule("a"));
    fakePackage(dir, "b-sink", manifest("b"), sinkModule("b"));
    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir] });
    const before = catalog.get("sink", "a");
    fakePackage(dir, "b-sink", manifest("b"), `${sinkModule("b")}// v2\n`);
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "host", dependencies: { "a-sink": "*", "b-sink": "*", "c-sink": "*" } }),
    );
    fakePackage(dir, "c-sink", manifest("c"), sinkModule("c"));
    const result = await catalog.reload();
    expect(result).toEqual({ added: ["sink:c"], removed: [], changed: ["sink:b"], unchanged: ["sink:a"] });
    expect(catalog.get("sink", "a")).toBe(before);
  });

  it("reload runs the changed code of a package, not the module cached from the first import", async () => {
    const dir = host(["a-sink"]);
    const manifest = { manifestVersion: 1, kind: "sink", name: "a", description: "d" };
    const versioned = (version: string) =>
      `export default { $$type: "pulsar-connect.sink", apiVersion: 1, name: "a", description: ${JSON.stringify(version)}, config: {}, open() {} };\n`;
    fakePackage(dir, "a-sink", manifest, versioned("first"));
    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir] });
    expect(catalog.get("sink", "a")?.definition.description).toBe("first");
    fakePackage(dir, "a-sink", manifest, versioned("second"));
    expect((await catalog.reload()).changed).toEqual(["sink:a"]);
    expect(catalog.get("sink", "a")?.definition.description).toBe("second");
    // Back to the first content: that code runs again, not whatever was loaded last.
    fakePackage(dir, "a-sink", manifest, versioned("first"));
    expect((await catalog.reload()).changed).toEqual(["sink:a"]);
    expect(catalog.get("sink", "a")?.definition.description).toBe("first");
  });
});

describe("function packages (sink transforms)", () => {
  const functionModule = (name: string) =>
    `export default { $$type: "pulsar-connect.function", apiVersion: 1, name: ${JSON.stringify(name)}, description: "d", config: {}, process(r) { return r; } };\n`;
  const manifest = (name: string) => ({ manifestVersion: 1, kind: "function", name, description: `${name} function` });

  it("are discovered like connectors, apart from them, and checked for their brand", async () => {
    const dir = host(["@pulsar-connect/function-upper", "fn-unbranded", "fn-as-sink", "same-name-sink"]);
    fakePackage(dir, "@pulsar-connect/function-upper", manifest("upper"), functionModule("upper"));
    fakePackage(dir, "fn-unbranded", manifest("plain"), "export default { name: 'plain', process() {} };\n");
    fakePackage(dir, "fn-as-sink", manifest("wrong"), sinkModule("wrong"));
    // A sink may have a function's name: kinds do not collide.
    fakePackage(
      dir,
      "same-name-sink",
      { manifestVersion: 1, kind: "sink", name: "upper", description: "d" },
      sinkModule("upper"),
    );

    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir] });
    expect(catalog.functions().map((f) => [f.name, f.packageName])).toEqual([
      ["upper", "@pulsar-connect/function-upper"],
    ]);
    expect(catalog.getFunction("upper")?.definition.name).toBe("upper");
    expect(catalog.get("sink", "upper")?.packageName).toBe("same-name-sink");
    expect(catalog.list("sink").map((c) => c.name)).toEqual(["upper"]);
    const problems = Object.fromEntries(catalog.problems.map((p) => [p.packageName, p.message]));
    expect(problems["fn-unbranded"]).toContain("not a function definition (use defineFunction()");
    expect(problems["fn-as-sink"]).toContain("not a function definition");
  });

  it("must live in a package named after their manifest", async () => {
    const dir = host(["@pulsar-connect/transforms"]);
    fakePackage(dir, "@pulsar-connect/transforms", manifest("transforms"), functionModule("transforms"));
    const catalog = await ConnectorCatalog.discover({ hostDirs: [dir] });
    expect(catalog.functions()).toEqual([]);
    expect(catalog.problems[0]?.message).toContain("@pulsar-connect/function-transforms");
  });
});
