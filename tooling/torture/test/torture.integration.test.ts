import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import type { RunResult } from "../src/internal/results.ts";

// One short seeded schedule on every CI run: its own Pulsar (killed and restarted), a worker (SIGKILLed and
// restarted), the shared PostgreSQL and SQLite. Only faults the runtime is meant to survive are drawn, so any
// lost or duplicated record, or a connector left stopped, fails the build. The seed reproduces it locally:
//   pnpm torture --seed <SEED> --minutes <MINUTES> --pipelines <PIPELINES> --actions <ACTIONS>
const SEED = 6;
const MINUTES = "1.5";
const PIPELINES = "pg-eo,pg-al,sqlite-eo,sqlite-al";
const ACTIONS = [
  "worker-kill",
  "worker-restart",
  "broker-kill",
  "topic-unload",
  "db-connections-killed",
  "poison-record",
  "sink-restart",
  "source-restart",
  "sink-stop",
  "source-stop",
].join(",");

const resultsDir = mkdtempSync(join(tmpdir(), "torture-results-"));
afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

it("a seeded schedule of worker and broker kills, poison records and restarts loses and duplicates nothing", async () => {
  const script = join(import.meta.dirname, "../src/torture.ts");
  const args = ["--conditions=@pulsar-connect/source", script, "--seed", String(SEED), "--minutes", MINUTES];
  args.push("--pipelines", PIPELINES, "--actions", ACTIONS, "--rate", "300", "--results", resultsDir);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) console.log(output);
  const [run] = JSON.parse(readFileSync(join(resultsDir, "results.json"), "utf8")) as RunResult[];
  expect(run?.violations).toEqual([]);
  expect(run?.faults).toBeGreaterThan(3);
  expect(code).toBe(0);
}, 420_000);
