import type { Guarantee } from "./schedule.ts";

/** What one pipeline delivered, and what its user asked of it over the run. */
export interface PipelineEvidence {
  id: string;
  /** Every guarantee the pipeline ran under during the run (an update changes it). */
  guarantees: readonly Guarantee[];
  /** The generator made the record ids 1..expected. */
  expected: number;
  /** Rows per record id found in the sink's table. */
  rows: ReadonlyMap<number, number>;
  /** Connectors the user left running that are not running, with what their status says. */
  notRunning: readonly string[];
}

export interface Verdict {
  id: string;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** First lost / duplicated ids, to start debugging from. */
  lostSample: number[];
  duplicatedSample: number[];
  violations: string[];
}

/**
 * The promise of a pipeline is what every guarantee it held promises together: no loss unless it was ever
 * ATMOST_ONCE, no duplicate unless it was ever ATLEAST_ONCE, exactly once when it was only ever EFFECTIVELY_ONCE.
 */
export function judge(evidence: PipelineEvidence): Verdict {
  const mustNotLose = !evidence.guarantees.includes("ATMOST_ONCE");
  const mustNotDuplicate = !evidence.guarantees.includes("ATLEAST_ONCE");
  let lost = 0;
  let duplicated = 0;
  let delivered = 0;
  const lostSample: number[] = [];
  const duplicatedSample: number[] = [];
  for (let id = 1; id <= evidence.expected; id++) {
    const count = evidence.rows.get(id) ?? 0;
    if (count === 0) {
      lost++;
      if (lostSample.length < 10) lostSample.push(id);
    } else {
      delivered++;
      if (count > 1) {
        duplicated += count - 1;
        if (duplicatedSample.length < 10) duplicatedSample.push(id);
      }
    }
  }
  const violations: string[] = [];
  const held = [...new Set(evidence.guarantees)].join("+");
  if (mustNotLose && lost > 0) {
    violations.push(`${evidence.id} (${held}): ${lost} of ${evidence.expected} records lost, e.g. ids ${lostSample}`);
  }
  if (mustNotDuplicate && duplicated > 0) {
    violations.push(
      `${evidence.id} (${held}): ${duplicated} duplicate rows, e.g. ids ${duplicatedSample} written more than once`,
    );
  }
  for (const connector of evidence.notRunning) {
    violations.push(`${evidence.id}: ${connector} was left running by the user but is not running`);
  }
  return {
    id: evidence.id,
    expected: evidence.expected,
    delivered,
    lost,
    duplicated,
    lostSample,
    duplicatedSample,
    violations,
  };
}
