// Keeps connector docs in sync with the code, and checks connector packages.
//
//   node --conditions=@pulsar-connect/source tooling/scripts/connector-docs.ts           rewrite README config tables
//   node --conditions=@pulsar-connect/source tooling/scripts/connector-docs.ts --check   exit 1 on drift or bad packages
//   node --conditions=@pulsar-connect/source tooling/scripts/connector-docs.ts --schema <dir>
//        write <dir>/dist/config.schema.json (a connector's build step)
//   --only <dir> limits the first two to one connector.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { configJsonSchema } from "@pulsar-connect/core";
import {
  configTable,
  connectorDirs,
  loadConnector,
  TABLE_END,
  TABLE_START,
  withConfigTable,
} from "./internal/connector-docs.ts";

const root = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    schema: { type: "string" },
    only: { type: "string" },
  },
});

if (!process.execArgv.some((arg) => arg.includes("@pulsar-connect/source"))) {
  console.error("run with: node --conditions=@pulsar-connect/source tooling/scripts/connector-docs.ts");
  process.exit(2);
}

if (values.schema !== undefined) {
  const dir = resolve(values.schema);
  const connector = await loadConnector(dir);
  if (connector.config === undefined) {
    console.error(`${connector.folder}: ${connector.problems.join("; ")}`);
    process.exit(1);
  }
  mkdirSync(join(dir, "dist"), { recursive: true });
  writeFileSync(
    join(dir, "dist", "config.schema.json"),
    `${JSON.stringify(configJsonSchema(connector.config), null, 2)}\n`,
  );
  console.log(`${connector.folder}: wrote dist/config.schema.json`);
  process.exit(0);
}

const dirs = values.only !== undefined ? [resolve(values.only)] : connectorDirs(join(root, "connectors"));
let failures = 0;
for (const dir of dirs) {
  const connector = await loadConnector(dir);
  const name = relative(root, dir);
  const problems = [...connector.problems];
  if (connector.config !== undefined) {
    const readmePath = join(dir, "README.md");
    const table = configTable(connector.config);
    if (!existsSync(readmePath)) {
      problems.push(`README.md is missing (it needs the config table between ${TABLE_START} and ${TABLE_END})`);
    } else {
      const readme = readFileSync(readmePath, "utf8");
      const updated = withConfigTable(readme, table);
      if (updated === undefined) {
        problems.push(`README.md has no ${TABLE_START} ... ${TABLE_END} markers`);
      } else if (updated !== readme) {
        if (values.check) problems.push("README.md config table is out of date (run pnpm docs:connectors)");
        else {
          writeFileSync(readmePath, updated);
          console.log(`${name}: README config table updated`);
        }
      }
    }
  }
  if (problems.length > 0) {
    failures++;
    for (const problem of problems) console.error(`${name}: ${problem}`);
  } else if (values.check) {
    console.log(`${name}: ok`);
  }
}
if (failures > 0) {
  console.error(`${failures} of ${dirs.length} connector(s) need attention`);
  process.exit(1);
}
