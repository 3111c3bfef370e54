// Prints the frames with the most self time in a V8 CPU profile (`node --cpu-prof`), and the same summed by file.
// Usage: node tooling/bench/src/profile-top.ts <file.cpuprofile> [frames=25]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file, frames = "25"] = process.argv.slice(2);
if (file === undefined) throw new Error("usage: profile-top.ts <file.cpuprofile> [frames]");
const profile = JSON.parse(readFileSync(file, "utf8")) as {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
};
const hits = new Map<number, number>();
for (const sample of profile.samples) hits.set(sample, (hits.get(sample) ?? 0) + 1);
const total = profile.samples.length;
const byFrame = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const count = hits.get(node.id) ?? 0;
  if (count === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url
    .replace(/^.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
    .replace(/^.*?\/(packages|connectors|tooling)\//, "$1/");
  const frame = `${functionName || "(anonymous)"} ${where}${url ? `:${lineNumber + 1}` : ""}`;
  byFrame.set(frame, (byFrame.get(frame) ?? 0) + count);
  const key = where || functionName;
  byFile.set(key, (byFile.get(key) ?? 0) + count);
}
const top = (map: Map<string, number>, n: number) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join("\n");
process.stdout.write(
  `${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s\n\nself time by frame:\n${top(byFrame, Number(frames))}\n\nself time by file:\n${top(byFile, 15)}\n`,
);
