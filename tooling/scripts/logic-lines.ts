// Lines of a connector's own logic: non-blank, non-comment lines of src/ without the tests, per connector.
// pnpm logic-lines [--root <checkout>]   (a checkout of another revision gives the figures to compare with)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { root: { type: "string", default: resolve(import.meta.dirname, "../..") } } });
const connectors = join(values.root, "connectors");

/** Non-blank lines that are not only a comment (line comments, and block comments however they span). */
export function logicLines(text: string): number {
  let count = 0;
  let inBlock = false;
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (inBlock) {
      const end = line.indexOf("*/");
      if (end === -1) continue;
      inBlock = false;
      line = line.slice(end + 2).trim();
    }
    while (line.startsWith("/*")) {
      const end = line.indexOf("*/", 2);
      if (end === -1) {
        inBlock = true;
        line = "";
        break;
      }
      line = line.slice(end + 2).trim();
    }
    if (line === "" || line.startsWith("//")) continue;
    count += 1;
  }
  return count;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

const rows = readdirSync(connectors)
  .filter((name) => existsSync(join(connectors, name, "package.json")))
  .sort()
  .map((name) => ({
    name,
    lines: sourceFiles(join(connectors, name, "src")).reduce(
      (sum, file) => sum + logicLines(readFileSync(file, "utf8")),
      0,
    ),
  }));
for (const row of rows) console.log(`${row.name}\t${row.lines}`);
