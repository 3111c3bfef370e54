import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Verdict } from "./oracle.ts";

export interface RunResult {
  seed: number;
  minutes: number;
  date: string;
  commit: string;
  pipelines: string[];
  /** Cluster mode: the number of workers (absent for one standalone worker). */
  cluster?: number;
  /** Cluster mode: steps the harness could not carry out (not violations). */
  stepFailures?: string[];
  /** The --actions list, or "all". */
  actions: string;
  steps: number;
  faults: number;
  records: number;
  lost: number;
  duplicated: number;
  violations: string[];
  verdicts: Verdict[];
  schedule: string[];
}

/** Appends one run to results.json and rewrites results.md from all runs there. */
export function writeResults(dir: string, run: RunResult): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, "results.json");
  const runs: RunResult[] = existsSync(json) ? (JSON.parse(readFileSync(json, "utf8")) as RunResult[]) : [];
  runs.push(run);
  writeFileSync(json, `${JSON.stringify(runs, null, 2)}\n`);
  const markdown = join(dir, "results.md");
  writeFileSync(markdown, renderMarkdown(runs));
  return { json, markdown };
}

export function renderMarkdown(runs: readonly RunResult[]): string {
  const lines = [
    "# Fault-injection runs",
    "",
    "Written by `pnpm torture`, one row per seeded schedule; the commands that reproduce them are below the table.",
    "Lost and duplicated count over all pipelines (an ATMOST_ONCE pipeline may lose, an ATLEAST_ONCE one may",
    "duplicate); violations are what the pipelines' guarantees forbid. Per-pipeline figures are in results.json.",
    "",
    "| date | commit | seed | minutes | pipelines | schedules | steps | faults | records | lost | duplicated | violations |",
    "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const totals = { minutes: 0, steps: 0, faults: 0, records: 0, lost: 0, duplicated: 0, violations: 0 };
  for (const run of runs) {
    const mode = run.cluster ? ` (cluster of ${run.cluster})` : "";
    lines.push(
      `| ${run.date.slice(0, 16).replace("T", " ")} | ${run.commit} | ${run.seed} | ${run.minutes} | ${run.pipelines.join(" ")}${mode} | 1 | ${run.steps} | ${run.faults} | ${run.records} | ${run.lost} | ${run.duplicated} | ${run.violations.length} |`,
    );
    totals.minutes += run.minutes;
    totals.steps += run.steps;
    totals.faults += run.faults;
    totals.records += run.records;
    totals.lost += run.lost;
    totals.duplicated += run.duplicated;
    totals.violations += run.violations.length;
  }
  lines.push(
    `| **total** | | | ${totals.minutes} | | ${runs.length} | ${totals.steps} | ${totals.faults} | ${totals.records} | ${totals.lost} | ${totals.duplicated} | ${totals.violations} |`,
  );
  lines.push("", "## Reproduce", "");
  for (const run of runs) {
    const actions = run.actions === "all" ? "" : ` --actions ${run.actions}`;
    lines.push(
      `- seed ${run.seed}: \`pnpm torture --seed ${run.seed} --minutes ${run.minutes}${run.cluster ? ` --cluster ${run.cluster}` : ""} --pipelines ${run.pipelines.join(",")}${actions}\``,
    );
  }
  const stumbled = runs.filter((run) => (run.stepFailures ?? []).length > 0);
  if (stumbled.length > 0) {
    lines.push("", "## Harness step failures", "", "Steps the harness could not carry out; not violations.", "");
    for (const run of stumbled) {
      lines.push(`### seed ${run.seed}, ${run.minutes} min, ${run.commit}`, "");
      for (const failure of run.stepFailures ?? []) lines.push(`- ${failure}`);
      lines.push("");
    }
  }
  const failing = runs.filter((run) => run.violations.length > 0);
  if (failing.length > 0) {
    lines.push("", "## Violations", "");
    for (const run of failing) {
      lines.push(`### seed ${run.seed}, ${run.minutes} min, ${run.commit}, actions: ${run.actions}`, "");
      for (const violation of run.violations) lines.push(`- ${violation}`);
      lines.push("", "Schedule:", "", "```", ...run.schedule, "```", "");
    }
  }
  return `${lines.join("\n")}\n`;
}
