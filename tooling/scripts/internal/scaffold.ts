// The files `pnpm new:connector` writes, kept apart from the command so that tests can read what it will emit.
// The templates are written the way biome formats them for a short name; the command formats the result anyway.

/** The kinds of connector the scaffold can emit. */
export const CONNECTOR_KINDS = ["sink", "source"] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

/** A client library the new connector depends on, and where its version comes from. */
export interface ScaffoldDependency {
  name: string;
  /** `catalog:` for a library of the pnpm catalog, `workspace:^` for a package of this repository. */
  specifier: "catalog:" | "workspace:^";
}

export interface ScaffoldOptions {
  kind: ConnectorKind;
  /** The connector name of the manifest: lowercase letters, digits and dashes. */
  name: string;
  description?: string;
  dependencies?: readonly ScaffoldDependency[];
}

export const NAME_PATTERN: RegExp = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export function isConnectorKind(value: unknown): value is ConnectorKind {
  return (CONNECTOR_KINDS as readonly unknown[]).includes(value);
}

/** `sink-my-store`: the folder under connectors/ and the package name without its scope. */
export function connectorFolder(kind: ConnectorKind, name: string): string {
  return `${kind}-${name}`;
}

/** `MyStore` for `my-store`. */
function titleOf(name: string): string {
  return name
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

export function defaultDescription(kind: ConnectorKind, name: string): string {
  return kind === "sink" ? `Writes records to ${titleOf(name)}` : `Reads records from ${titleOf(name)}`;
}

/** The changeset file name (under .changeset/) and its content. */
export function changesetOf(options: ScaffoldOptions): { file: string; content: string } {
  const folder = connectorFolder(options.kind, options.name);
  const description = options.description ?? defaultDescription(options.kind, options.name);
  return {
    file: `${folder}.md`,
    content: `---\n"@pulsar-connect/${folder}": minor\n---\n\nNew ${options.kind} connector \`${options.name}\`: ${description}.\n`,
  };
}

/** Every file of the new connector package, by path inside its folder. */
export function connectorFiles(options: ScaffoldOptions): Record<string, string> {
  const t = templateValues(options);
  return {
    "package.json": packageJson(t, options.dependencies ?? []),
    "tsconfig.json": '{ "extends": "@pulsar-connect/tsconfig/connector.json" }\n',
    "tsdown.config.ts": 'export { default } from "@pulsar-connect/tsconfig/tsdown";\n',
    "src/index.ts": t.kind === "sink" ? sinkSource(t) : sourceSource(t),
    "src/index.test.ts": t.kind === "sink" ? sinkTest(t) : sourceTest(t),
    "test/conformance.integration.test.ts": t.kind === "sink" ? sinkIntegrationTest(t) : sourceIntegrationTest(t),
    "test/services.json": `${JSON.stringify(["pulsar"])}\n`,
    "README.md": readme(t),
  };
}

interface TemplateValues {
  kind: ConnectorKind;
  name: string;
  folder: string;
  packageName: string;
  title: string;
  description: string;
}

function templateValues(options: ScaffoldOptions): TemplateValues {
  const folder = connectorFolder(options.kind, options.name);
  return {
    kind: options.kind,
    name: options.name,
    folder,
    packageName: `@pulsar-connect/${folder}`,
    title: titleOf(options.name),
    description: options.description ?? defaultDescription(options.kind, options.name),
  };
}

function packageJson(t: TemplateValues, dependencies: readonly ScaffoldDependency[]): string {
  const sortedDependencies = Object.fromEntries(
    [...dependencies].sort((a, b) => a.name.localeCompare(b.name)).map((dep) => [dep.name, dep.specifier]),
  );
  return `${JSON.stringify(
    {
      name: t.packageName,
      version: "0.0.0",
      description: t.description,
      type: "module",
      license: "Apache-2.0",
      repository: {
        type: "git",
        url: "git+https://github.com/pulsar-connect/pulsar-connect.git",
        directory: `connectors/${t.folder}`,
      },
      keywords: ["pulsar", "pulsar-connect", `pulsar-connect-${t.kind}`, "pulsar-io", t.name],
      sideEffects: false,
      engines: { node: ">=22.12" },
      files: ["dist", "README.md"],
      exports: {
        ".": { "@pulsar-connect/source": "./src/index.ts", types: "./dist/index.d.mts", default: "./dist/index.mjs" },
        "./package.json": "./package.json",
      },
      publishConfig: { access: "public" },
      pulsarConnector: {
        manifestVersion: 1,
        kind: t.kind,
        name: t.name,
        description: t.description,
        configSchema: "./dist/config.schema.json",
      },
      scripts: {
        build: "tsdown && node --conditions=@pulsar-connect/source ../../tooling/scripts/connector-docs.ts --schema .",
        typecheck: "tsc -p tsconfig.json",
      },
      dependencies: sortedDependencies,
      peerDependencies: { "@pulsar-connect/core": "workspace:^" },
      devDependencies: {
        "@pulsar-connect/core": "workspace:*",
        "@pulsar-connect/test-support": "workspace:*",
        "@pulsar-connect/testkit": "workspace:*",
        "@pulsar-connect/tsconfig": "workspace:*",
        "@types/node": "catalog:",
        tsdown: "catalog:",
        typescript: "catalog:",
        vitest: "catalog:",
      },
      main: "./dist/index.mjs",
      types: "./dist/index.d.mts",
    },
    null,
    2,
  )}\n`;
}

function sinkSource(t: TemplateValues): string {
  const variable = `${lowerFirst(t.title)}Sink`;
  return `import { appendFile, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { ConnectorError, confinedHostPath, defineSink, type SinkDefinition, z } from "@pulsar-connect/core";

// A working skeleton: it appends each record as a line of JSON to a file, so that it passes the conformance suite
// before it talks to ${t.title}. Replace the file with the system. Wrap passwords, tokens and keys in sensitive(...).
const config = z.strictObject({
  path: z.string().min(1, "must name a file").describe("File the records are appended to, one JSON line each"),
});

/** The validated config of the ${t.name} sink. */
export type ${t.title}SinkConfig = z.output<typeof config>;

/** The ${t.name} sink. */
const ${variable}: SinkDefinition = defineSink({
  name: ${JSON.stringify(t.name)},
  description: ${JSON.stringify(t.description)},
  config,
  batchSize: 100,
  async open(settings, context) {
    const path = confinedHostPath(settings.path, "path");
    // Connect here. An unreachable system is a retryable ConnectorError("CONNECTION_FAILED"): the runtime retries.
    const file = await mkdir(dirname(path), { recursive: true })
      .then(() => open(path, "a"))
      .catch((error: unknown) => {
        throw new ConnectorError("CONNECTION_FAILED", \`cannot open \${settings.path}\`, {
          retryable: true,
          cause: error,
        });
      });
    return {
      async write(records) {
        // Resolve once every record is durable; throw when the batch as a whole failed (the runtime retries it).
        // Return { failed: [{ index, error }] } for single records that can never be written.
        const lines = records.map((record) =>
          JSON.stringify({ messageId: record.messageId, value: new TextDecoder().decode(record.data) }),
        );
        await appendFile(file, \`\${lines.join("\\n")}\\n\`);
        await file.sync();
        context.recordMetric("written", records.length);
      },
      async close() {
        await file.close();
      },
    };
  },
});

export default ${variable};
`;
}

function sinkTest(t: TemplateValues): string {
  return `import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectorError, isSinkDefinition, loadConfig, parseConfig } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import definition from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "${t.folder}-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("${t.name} sink", () => {
  it("is a sink definition named ${t.name}", () => {
    expect(isSinkDefinition(definition)).toBe(true);
    expect(definition.name).toBe("${t.name}");
  });

  it("refuses invalid config with field-level issues", () => {
    const result = parseConfig(definition.config, { path: "", unknownField: 1 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual(["configs", "configs.path"]);
  });

  it("writes a batch", async () => {
    const path = join(dir, "batch.jsonl");
    const handle = createSinkContext({ name: "${t.name}-test" });
    const sink = await definition.open(loadConfig(definition.config, { path }), handle.context);
    await sink.write(makeSinkRecords([{ value: { id: 1 } }, { value: { id: 2 } }]));
    await sink.close();
    const values = readFileSync(path, "utf8")
      .trim()
      .split("\\n")
      .map((line) => JSON.parse(JSON.parse(line).value));
    expect(values).toEqual([{ id: 1 }, { id: 2 }]);
    expect(handle.metrics).toEqual([{ name: "written", value: 2 }]);
  });

  it("reports a target it cannot open as a retryable error", async () => {
    const handle = createSinkContext();
    const error = await definition
      .open(loadConfig(definition.config, { path: join("/dev/null", "not-a-dir", "out.jsonl") }), handle.context)
      .catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
  });
});
`;
}

function sinkIntegrationTest(t: TemplateValues): string {
  return `import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";

// The conformance suite against a real Pulsar (listed in services.json): config checks, open/close, and the runtime
// tests (injected failures, restart, SIGKILL between write and acknowledgement) that read the target back.
const dir = mkdtempSync(join(tmpdir(), "${t.folder}-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeSinkConformance("${t.name}", {
  definition,
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  pulsar: pulsarEndpoints(),
  config: () => ({ path: join(dir, \`\${uniqueName("out")}.jsonl\`) }),
  invalidConfig: { configs: { path: "" }, paths: ["configs.path"] },
  value: (id) => ({ id }),
  readBack: async (configs) => {
    const path = configs.path as string;
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
      .split("\\n")
      .filter((line) => line !== "")
      .map((line) => (JSON.parse((JSON.parse(line) as { value: string }).value) as { id: number }).id);
  },
  duplicatesVisible: true,
});
`;
}

function sourceSource(t: TemplateValues): string {
  const variable = `${lowerFirst(t.title)}Source`;
  return `import { defineSource, type SourceDefinition, type SourceRecord, z } from "@pulsar-connect/core";

// A working skeleton: it generates \`count\` JSON records, so that it passes the conformance suite before it talks to
// ${t.title}. Replace the generator with reads from the system. Wrap passwords, tokens and keys in sensitive(...).
const config = z.strictObject({
  message: z.string().default("hello").describe("Text of each record"),
  count: z.number().int().min(0).default(10).describe("Records to produce before the source ends (0 = unbounded)"),
});

/** The validated config of the ${t.name} source. */
export type ${t.title}SourceConfig = z.output<typeof config>;

/** The ${t.name} source. */
const ${variable}: SourceDefinition = defineSource({
  name: ${JSON.stringify(t.name)},
  description: ${JSON.stringify(t.description)},
  config,
  async open(settings, context) {
    // Connect to the external system here. partitionId + sequence let EFFECTIVELY_ONCE deduplicate.
    const partitionId = \`${t.name}-\${context.name}-\${context.instanceId}\`;
    let sent = 0;
    return {
      async read({ maxRecords, signal }) {
        if (settings.count > 0 && sent >= settings.count) return null;
        if (signal.aborted) return [];
        const n = Math.min(maxRecords, settings.count > 0 ? settings.count - sent : maxRecords);
        const records: SourceRecord[] = [];
        for (let i = 0; i < n; i++, sent++) {
          records.push({
            value: JSON.stringify({ id: sent, message: settings.message }),
            partitionId,
            sequence: BigInt(sent),
          });
        }
        return records;
      },
      async close() {},
    };
  },
});

export default ${variable};
`;
}

function sourceTest(t: TemplateValues): string {
  return `import { isSourceDefinition, loadConfig, parseConfig } from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

describe("${t.name} source", () => {
  it("is a source definition named ${t.name}", () => {
    expect(isSourceDefinition(definition)).toBe(true);
    expect(definition.name).toBe("${t.name}");
  });

  it("refuses invalid config with field-level issues", () => {
    const result = parseConfig(definition.config, { count: -1 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(["configs.count"]);
  });

  it("produces count records with monotonic sequences, then ends", async () => {
    const handle = createSourceContext({ name: "${t.name}-test" });
    const source = await definition.open(loadConfig(definition.config, { count: 5 }), handle.context);
    const signal = new AbortController().signal;
    const first = await source.read({ maxRecords: 3, signal });
    const second = await source.read({ maxRecords: 3, signal });
    expect([...(first ?? []), ...(second ?? [])].map((record) => record.sequence)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(await source.read({ maxRecords: 3, signal })).toBeNull();
    await source.close();
  });
});
`;
}

function sourceIntegrationTest(t: TemplateValues): string {
  return `import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import {
  createDedupNamespace,
  describeSourceConformance,
  exited,
  startSourceProcess,
  storedIds,
} from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const pulsar = pulsarEndpoints();

describeSourceConformance("${t.name}", {
  definition,
  config: () => ({ count: 20 }),
  invalidConfig: { configs: { count: -1 }, paths: ["configs.count"] },
  effectivelyOnce: true,
});

describe("${t.name} source through the runtime into Pulsar", () => {
  it("stores every record exactly once (EFFECTIVELY_ONCE)", { timeout: 120_000 }, async () => {
    const count = 500;
    const namespace = await createDedupNamespace(pulsar.adminUrl, uniqueName("${t.folder}"));
    const topic = \`persistent://\${namespace}/out\`;
    const child = startSourceProcess({
      connectorModule: join(import.meta.dirname, "../src/index.ts"),
      configs: { count },
      secrets: {},
      ...pulsar,
      topic,
      name: uniqueName("${t.name}"),
      guarantee: "EFFECTIVELY_ONCE",
    });
    expect(await exited(child), "the instance ends once the source is exhausted").toEqual({ code: 0, signal: null });
    const { seen, repeated } = await storedIds(pulsar, topic);
    expect(seen.size).toBe(count);
    expect(repeated).toBe(0);
  });
});
`;
}

function readme(t: TemplateValues): string {
  const create =
    t.kind === "sink"
      ? `pulsar-connect sinks create --sink-type ${t.name} --name my-${t.name} \\\n  --inputs persistent://public/default/my-topic \\\n  --sink-config '{"path": "/var/lib/pulsar-connect/${t.name}.jsonl"}'`
      : `pulsar-connect sources create --source-type ${t.name} --name my-${t.name} \\\n  --destination-topic-name persistent://public/default/my-topic \\\n  --source-config '{"message": "hello", "count": 100}'`;
  // The skeleton source gives every record a partition and a sequence, so EFFECTIVELY_ONCE deduplicates; the skeleton
  // sink cannot store positions with its data.
  const effectively = t.kind === "source" ? "yes       " : "no        ";
  return `# ${t.packageName}

The \`${t.name}\` ${t.kind} of [pulsar-connect](../../README.md): ${lowerFirst(t.description)}.

## What it does

Describe what the connector reads or writes, how records map, and what happens on errors.

## Guarantees

| Guarantee        | Supported | How |
| ---------------- | --------- | --- |
| ATMOST_ONCE      | yes       |     |
| ATLEAST_ONCE     | yes       |     |
| EFFECTIVELY_ONCE | ${effectively}|     |

## Configuration

<!-- config-table:start -->
<!-- config-table:end -->

## Example

\`\`\`sh
${create}
\`\`\`

## Tests

\`pnpm vitest run --project ${t.folder} --project ${t.folder}:integration\`
`;
}

/** A `--dependency` argument: `name` or `name@range` (`@scope/name@range` for a scoped package). */
export interface DependencyRequest {
  name: string;
  range?: string;
}

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** Parses a `--dependency` argument; undefined when it does not name an npm package. */
export function parseDependency(text: string): DependencyRequest | undefined {
  const at = text.lastIndexOf("@");
  const [name, range] = at > 0 ? [text.slice(0, at), text.slice(at + 1)] : [text, undefined];
  if (!PACKAGE_NAME.test(name) || range === "") return undefined;
  return range === undefined ? { name } : { name, range };
}

/** The entries of the default `catalog:` of a pnpm-workspace.yaml, by package name. */
export function catalogEntries(workspaceYaml: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of catalogBlock(workspaceYaml.split("\n")).lines) {
    const entry = parseCatalogLine(line);
    if (entry) entries.set(entry.name, entry.range);
  }
  return entries;
}

/** The pnpm-workspace.yaml text with `name: range` appended to its default `catalog:`. */
export function withCatalogEntry(workspaceYaml: string, name: string, range: string): string {
  const lines = workspaceYaml.split("\n");
  const block = catalogBlock(lines);
  if (block.start < 0) throw new Error("pnpm-workspace.yaml has no catalog: section");
  const key = /^[a-z0-9]/.test(name) ? name : JSON.stringify(name);
  const value = /^[\^~]?\d[\w.+-]*$/.test(range) ? range : JSON.stringify(range);
  const indent = block.lines.find((line) => parseCatalogLine(line))?.match(/^\s+/)?.[0] ?? "  ";
  lines.splice(block.lastEntry + 1, 0, `${indent}${key}: ${value}`);
  return lines.join("\n");
}

/** Line indexes of the top-level `catalog:` key and of its last entry; the entries' lines. */
function catalogBlock(lines: readonly string[]): { start: number; lastEntry: number; lines: string[] } {
  const start = lines.findIndex((line) => /^catalog:\s*$/.test(line));
  if (start < 0) return { start, lastEntry: start, lines: [] };
  let lastEntry = start;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (/^\S/.test(line)) break;
    if (parseCatalogLine(line)) lastEntry = i;
  }
  return { start, lastEntry, lines: lines.slice(start + 1, lastEntry + 1) };
}

function parseCatalogLine(line: string): { name: string; range: string } | undefined {
  const match = /^\s+("([^"]+)"|'([^']+)'|([^\s:#'"][^\s:]*)):\s*(.+?)\s*$/.exec(line);
  if (!match) return undefined;
  const name = match[2] ?? match[3] ?? match[4] ?? "";
  const raw = match[5] ?? "";
  const range = /^".*"$|^'.*'$/.test(raw) ? raw.slice(1, -1) : raw;
  return { name, range };
}
