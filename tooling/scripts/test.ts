// The repository's full test command: brings up (or reuses) the servers every package's test/services.json
// asks for, runs `vitest run` with the given arguments, stops only the servers it started itself, and exits
// with vitest's exit code. Under CI=true a skipped test is a failure too: a test that cannot run there hides a gap.
//   node tooling/scripts/test.ts [vitest args...]
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  describeUp,
  type ServiceName,
  servicesOfWorkspace,
  stopServices,
  type UpResult,
  upServices,
} from "../services/src/index.ts";

const root = join(import.meta.dirname, "../..");
const resultsFile = join(root, ".run/test-results.json");
const args = process.argv.slice(2);

/** Servers are only needed when integration projects run: all projects, or a --project filter naming them. */
function runsIntegration(vitestArgs: readonly string[]): boolean {
  const filters: string[] = [];
  vitestArgs.forEach((arg, i) => {
    if (arg === "--project") filters.push(vitestArgs[i + 1] ?? "");
    else if (arg.startsWith("--project=")) filters.push(arg.slice("--project=".length));
  });
  if (filters.length === 0) return true;
  return filters.some((filter) => !filter.startsWith("!") && (filter.includes("integration") || filter.includes("*")));
}

// kafkajs (the Kafka health check) trips a harmless Node timer warning on every connection.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") console.error(`${warning.name}: ${warning.message}`);
});

const wanted: ServiceName[] = runsIntegration(args) ? servicesOfWorkspace(root) : [];
const started: ServiceName[] = [];
const upResults: UpResult[] = [];
let exitCode = 1;

async function stopOurs(): Promise<void> {
  if (started.length === 0) return;
  for (const result of await stopServices(started)) {
    console.log(`test: ${result.name} ${result.outcome} in ${(result.ms / 1000).toFixed(1)} s`);
  }
  started.length = 0;
}

try {
  if (wanted.length > 0) {
    console.log(`test: servers needed by test/services.json files: ${wanted.join(", ")}`);
    const begun = Date.now();
    await upServices(wanted, {
      onResult: (result) => {
        if (result.action === "started") started.push(result.name);
        upResults.push(result);
        console.log(`test: ${describeUp(result)}`);
      },
    });
    console.log(`test: servers ready in ${((Date.now() - begun) / 1000).toFixed(1)} s`);
  }

  // A JSON report next to the usual output gives the one-line summary printed last.
  const reporterArgs = args.some((arg) => arg.startsWith("--reporter"))
    ? []
    : ["--reporter=default", "--reporter=json", `--outputFile.json=${resultsFile}`];
  mkdirSync(join(root, ".run"), { recursive: true });
  rmSync(resultsFile, { force: true });
  const vitest = spawn(join(root, "node_modules/.bin/vitest"), ["run", ...reporterArgs, ...args], {
    cwd: root,
    stdio: "inherit",
  });
  // Ctrl-C reaches vitest through the terminal's process group; wait for it to finish, then clean up.
  const onSignal = () => {};
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", () => vitest.kill("SIGTERM"));
  exitCode = await new Promise<number>((resolve) => {
    vitest.once("exit", (code, signal) => resolve(code ?? (signal ? 128 + 2 : 1)));
    vitest.once("error", (error) => {
      console.error(`test: could not run vitest: ${error.message}`);
      resolve(1);
    });
  });
  process.off("SIGINT", onSignal);
} catch (error) {
  console.error(`test: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await stopOurs();
}
if (upResults.length > 0) {
  const summary = upResults.map((r) => `${r.name} ${r.action} ${(r.ms / 1000).toFixed(1)} s`).join(", ");
  console.log(`test: server up times: ${summary}`);
}
if (existsSync(resultsFile)) {
  const report = JSON.parse(readFileSync(resultsFile, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  const skipped = report.numPendingTests + report.numTodoTests;
  if (skipped > 0 && process.env.CI === "true") {
    console.error(`test: ${skipped} skipped under CI=true; every test must run in CI`);
    if (exitCode === 0) exitCode = 1;
  }
  console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
} else if (process.env.CI === "true" && exitCode === 0) {
  console.error("test: vitest wrote no results file; cannot tell how many tests ran");
  exitCode = 1;
}
process.exit(exitCode);
