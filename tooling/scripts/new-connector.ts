// Scaffolds a connector package: pnpm new:connector --kind sink|source --name <name> [--description "..."] [--no-install]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dirname, "../..");
const usage = 'usage: pnpm new:connector --kind sink|source --name <name> [--description "..."] [--no-install]';

const { values } = parseArgs({
  options: {
    kind: { type: "string" },
    name: { type: "string" },
    description: { type: "string" },
    "no-install": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const kind = values.kind;
const name = values.name;
if (kind !== "sink" && kind !== "source") fail("--kind must be sink or source");
if (name === undefined || !/^[a-z][a-z0-9-]*$/.test(name)) {
  fail("--name must be lowercase letters, digits and dashes, starting with a letter (e.g. my-store)");
}
const folder = `${kind}-${name}`;
const dir = join(root, "connectors", folder);
if (existsSync(dir)) fail(`connectors/${folder} already exists`);

const packageName = `@pulsar-connect/${folder}`;
const title = name
  .split("-")
  .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
  .join("");
const description =
  values.description ?? (kind === "sink" ? `Writes records to ${title}` : `Reads records from ${title}`);

const files: Record<string, string> = {
  "package.json": `${JSON.stringify(
    {
      name: packageName,
      version: "0.0.0",
      description,
      type: "module",
      license: "Apache-2.0",
      repository: {
        type: "git",
        url: "git+https://github.com/pulsar-connect/pulsar-connect.git",
        directory: `connectors/${folder}`,
      },
      keywords: ["pulsar", "pulsar-connect", `pulsar-connect-${kind}`, "pulsar-io", name],
      sideEffects: false,
      engines: { node: ">=22.12" },
      files: ["dist", "README.md"],
      exports: {
        ".": { "@pulsar-connect/source": "./src/index.ts", types: "./dist/index.d.mts", default: "./dist/index.mjs" },
        "./package.json": "./package.json",
      },
      publishConfig: { access: "public" },
      pulsarConnector: { manifestVersion: 1, kind, name, description, configSchema: "./dist/config.schema.json" },
      scripts: {
        build: "tsdown && node --conditions=@pulsar-connect/source ../../tooling/scripts/connector-docs.ts --schema .",
        typecheck: "tsc -p tsconfig.json",
      },
      dependencies: {},
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
  )}\n`,
  "tsconfig.json": `${JSON.stringify({ extends: "@pulsar-connect/tsconfig/connector.json" })}\n`,
  "tsdown.config.ts": 'export { default } from "@pulsar-connect/tsconfig/tsdown";\n',
  "src/index.ts": kind === "sink" ? sinkSource() : sourceSource(),
  "src/index.test.ts": kind === "sink" ? sinkTest() : sourceTest(),
  "test/conformance.integration.test.ts": kind === "sink" ? sinkIntegrationTest() : sourceIntegrationTest(),
  "test/services.json": `${JSON.stringify(["pulsar"])}\n`,
  "README.md": readme(),
};

for (const [file, content] of Object.entries(files)) {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), content);
}
writeFileSync(
  join(root, ".changeset", `${folder}.md`),
  `---\n"${packageName}": minor\n---\n\nNew ${kind} connector \`${name}\`: ${description}.\n`,
);
console.log(`created connectors/${folder} and .changeset/${folder}.md`);

if (!values["no-install"]) {
  execFileSync("pnpm", ["install"], { cwd: root, stdio: "inherit" });
  execFileSync(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(root, "tooling/scripts/connector-docs.ts"), "--only", dir],
    { cwd: root, stdio: "inherit" },
  );
  execFileSync("pnpm", ["biome", "check", "--write", dir, join(root, ".changeset", `${folder}.md`)], {
    cwd: root,
    stdio: "inherit",
  });
  console.log(`\nnext: edit connectors/${folder}/src/index.ts, then pnpm vitest run --project ${folder}`);
}

function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

function sinkSource(): string {
  return `import { appendFile, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { ConnectorError, confinedHostPath, defineSink, type SinkDefinition, z } from "@pulsar-connect/core";

// A working skeleton: it appends each record as a line of JSON to a file, so that it passes the conformance suite
// before it talks to ${title}. Replace the file with the system. Wrap passwords, tokens and keys in sensitive(...).
const config = z.strictObject({
  path: z.string().min(1, "must name a file").describe("File the records are appended to, one JSON line each"),
});

/** The validated config of the ${name} sink. */
export type ${title}SinkConfig = z.output<typeof config>;

/** The ${name} sink. */
const ${lowerFirst(title)}Sink: SinkDefinition = defineSink({
  name: "${name}",
  description: "${description}",
  config,
  batchSize: 100,
  async open(settings, context) {
    const path = confinedHostPath(settings.path, "path");
    // Connect here. An unreachable system is a retryable ConnectorError("CONNECTION_FAILED"): the runtime retries.
    const file = await mkdir(dirname(path), { recursive: true })
      .then(() => open(path, "a"))
      .catch((error: unknown) => {
        throw new ConnectorError("CONNECTION_FAILED", \`cannot open \${settings.path}\`, { retryable: true, cause: error });
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

export default ${lowerFirst(title)}Sink;
`;
}

function sinkTest(): string {
  return `import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectorError, isSinkDefinition, loadConfig, parseConfig } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "${folder}-"));

describe("${name} sink", () => {
  it("is a sink definition named ${name}", () => {
    expect(isSinkDefinition(definition)).toBe(true);
    expect(definition.name).toBe("${name}");
  });

  it("refuses invalid config with field-level issues", () => {
    const result = parseConfig(definition.config, { path: "", unknownField: 1 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual(["configs", "configs.path"]);
  });

  it("writes a batch", async () => {
    const path = join(dir, "batch.jsonl");
    const handle = createSinkContext({ name: "${name}-test" });
    const sink = await definition.open(loadConfig(definition.config, { path }), handle.context);
    await sink.write(makeSinkRecords([{ value: { id: 1 } }, { value: { id: 2 } }]));
    await sink.close();
    const values = readFileSync(path, "utf8").trim().split("\\n").map((line) => JSON.parse(JSON.parse(line).value));
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

function sinkIntegrationTest(): string {
  return `import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";

// The conformance suite against a real Pulsar (listed in services.json): config checks, open/close, and the runtime
// tests (injected failures, restart, SIGKILL between write and acknowledgement) that read the target back.
const dir = mkdtempSync(join(tmpdir(), "${folder}-"));

describeSinkConformance("${name}", {
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

function sourceSource(): string {
  return `import { defineSource, type SourceDefinition, type SourceRecord, z } from "@pulsar-connect/core";

// A working skeleton: it generates \`count\` JSON records, so that it passes the conformance suite before it talks to
// ${title}. Replace the generator with reads from the system. Wrap passwords, tokens and keys in sensitive(...).
const config = z.strictObject({
  message: z.string().default("hello").describe("Text of each record"),
  count: z.number().int().min(0).default(10).describe("Records to produce before the source ends (0 = unbounded)"),
});

/** The validated config of the ${name} source. */
export type ${title}SourceConfig = z.output<typeof config>;

/** The ${name} source. */
const ${lowerFirst(title)}Source: SourceDefinition = defineSource({
  name: "${name}",
  description: "${description}",
  config,
  async open(settings, context) {
    // Connect to the external system here. partitionId + sequence let EFFECTIVELY_ONCE deduplicate.
    const partitionId = \`${name}-\${context.name}-\${context.instanceId}\`;
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

export default ${lowerFirst(title)}Source;
`;
}

function sourceTest(): string {
  return `import { isSourceDefinition, loadConfig, parseConfig } from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

describe("${name} source", () => {
  it("is a source definition named ${name}", () => {
    expect(isSourceDefinition(definition)).toBe(true);
    expect(definition.name).toBe("${name}");
  });

  it("refuses invalid config with field-level issues", () => {
    const result = parseConfig(definition.config, { count: -1 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(["configs.count"]);
  });

  it("produces count records with monotonic sequences, then ends", async () => {
    const handle = createSourceContext({ name: "${name}-test" });
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

function sourceIntegrationTest(): string {
  return `import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { createDedupNamespace, describeSourceConformance, exited, startSourceProcess, storedIds } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const pulsar = pulsarEndpoints();

describeSourceConformance("${name}", {
  definition,
  config: () => ({ count: 20 }),
  invalidConfig: { configs: { count: -1 }, paths: ["configs.count"] },
  effectivelyOnce: true,
});

describe("${name} source through the runtime into Pulsar", () => {
  it("stores every record exactly once (EFFECTIVELY_ONCE)", { timeout: 120_000 }, async () => {
    const count = 500;
    const namespace = await createDedupNamespace(pulsar.adminUrl, uniqueName("${folder}"));
    const topic = \`persistent://\${namespace}/out\`;
    const child = startSourceProcess({
      connectorModule: join(import.meta.dirname, "../src/index.ts"),
      configs: { count },
      secrets: {},
      ...pulsar,
      topic,
      name: uniqueName("${name}"),
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

function readme(): string {
  const create =
    kind === "sink"
      ? `pulsar-connect sinks create --sink-type ${name} --name my-${name} \\\n  --inputs persistent://public/default/my-topic \\\n  --sink-config '{"endpoint": "https://example.com"}' --secrets '{"token": "<token>"}'`
      : `pulsar-connect sources create --source-type ${name} --name my-${name} \\\n  --destination-topic-name persistent://public/default/my-topic \\\n  --source-config '{"message": "hello", "count": 100}'`;
  return `# ${packageName}

The \`${name}\` ${kind} of [pulsar-connect](../../README.md): ${description.charAt(0).toLowerCase()}${description.slice(1)}.

## What it does

Describe what the connector reads or writes, how records map, and what happens on errors.

## Guarantees

| Guarantee | Supported | How |
|---|---|---|
| ATMOST_ONCE | yes | |
| ATLEAST_ONCE | yes | |
| EFFECTIVELY_ONCE | no | |

## Configuration

<!-- config-table:start -->
<!-- config-table:end -->

## Example

\`\`\`sh
${create}
\`\`\`

## Tests

\`pnpm vitest run --project ${folder}\`
`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
