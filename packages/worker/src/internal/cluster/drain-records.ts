import type { DrainStatus } from "../scheduler.ts";

/**
 * workerId -> when the drained process started: that process gets no instances, even after its lease lapsed and it
 * took a new incarnation; a restarted worker (a new process) does again.
 */
export type DrainRecords = Record<string, number>;

/** What drain bookkeeping needs to know of a member. */
export interface DrainedMember {
  /** When its process started: the same across the incarnations a lapsed lease gives it. */
  started: number;
  /** Instances it still holds, from its latest heartbeat. */
  running: readonly string[];
}

/**
 * The records that still hold: a drained worker keeps its record while it is a member (live or not: a worker frozen
 * past its lease comes back drained) with the process that was drained. Once it left the membership, or restarted
 * (a new process), it is forgotten and placed on again, as upstream forgets a drained worker once it left.
 */
export function currentDrains(
  records: DrainRecords,
  member: (workerId: string) => DrainedMember | undefined,
): DrainRecords {
  const out: DrainRecords = {};
  for (const [workerId, started] of Object.entries(records)) {
    if (member(workerId)?.started === started) out[workerId] = started;
  }
  return out;
}

/**
 * Upstream's `LongRunningProcessStatus` of a drain: RUNNING until the drained worker holds no instance any more (it
 * stops each one gracefully before the new owner starts it), then SUCCESS; ERROR when no drain of it is on record.
 */
export function drainStatusOf(
  workerId: string,
  records: DrainRecords,
  requested: boolean,
  member: DrainedMember | undefined,
  placedOn: number,
): DrainStatus {
  if (requested) return { status: "RUNNING", lastError: "" };
  if (records[workerId] === undefined) {
    return { status: "ERROR", lastError: `Worker ${workerId} not found in drain records` };
  }
  const holds = (member?.running.length ?? 0) > 0 || placedOn > 0;
  return { status: holds ? "RUNNING" : "SUCCESS", lastError: "" };
}
