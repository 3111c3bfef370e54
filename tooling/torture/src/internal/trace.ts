import { MessageId, PulsarClient } from "@pulsar-connect/pulsar-client";

/** One copy of a generated record found in a pipeline's topic. */
export interface TopicCopy {
  messageId: string;
  publishTime: number;
  producerName: string;
  sequenceId: bigint;
}

/** A step as it ran: wall-clock start and end, for lining faults up with the records they touched. */
export interface ExecutedStep {
  line: string;
  start: number;
  end: number;
}

/**
 * Every copy of every generated record in `topic`, by record id (the generator keys each record with its id).
 * Reads from the earliest message; the harness's broker keeps acknowledged messages for this.
 */
export async function scanTopic(serviceUrl: string, topic: string): Promise<Map<number, TopicCopy[]>> {
  const client = new PulsarClient({ serviceUrl });
  const copies = new Map<number, TopicCopy[]>();
  try {
    const reader = await client.createReader({ topic, startMessageId: MessageId.earliest, receiverQueueSize: 1000 });
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(30_000);
        const id = Number(message.key);
        if (!Number.isSafeInteger(id) || id < 1) continue;
        const list = copies.get(id) ?? [];
        list.push({
          messageId: message.messageId.toString(),
          publishTime: message.publishTime,
          producerName: message.producerName,
          sequenceId: message.sequenceId,
        });
        copies.set(id, list);
      }
    } finally {
      await reader.close().catch(() => {});
    }
  } finally {
    await client.close().catch(() => {});
  }
  return copies;
}

/** Consecutive runs of ids, as [first, last] pairs. */
export function idRuns(ids: readonly number[]): Array<[number, number]> {
  const sorted = [...ids].sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const id of sorted) {
    const last = runs.at(-1);
    if (last && id === last[1] + 1) last[1] = id;
    else runs.push([id, id]);
  }
  return runs;
}

export interface TraceInput {
  /** Ids 1..expected the pipeline had to deliver. */
  expected: number;
  /** Rows per id in the sink's table. */
  rows: ReadonlyMap<number, number>;
  /** Copies per id in the pipeline's topic. */
  topic: ReadonlyMap<number, TopicCopy[]>;
  /** The steps that ran, with wall-clock times. */
  steps: readonly ExecutedStep[];
  /** Wall-clock time of t+0 of the schedule. */
  origin: number;
  /** Whether lost ids and duplicated ids are violations here (only those are traced). */
  lossForbidden: boolean;
  duplicationForbidden: boolean;
}

const MAX_RUNS = 6;
/** Steps this close (ms) to the publish times around a run of ids are listed with it. */
const STEP_WINDOW_MS = 10_000;

/**
 * Where forbidden losses and duplicates happened: a lost id that is not in the topic was lost by the source side
 * (never stored by the broker), one that is in the topic by the sink side; a duplicate that is twice in the topic
 * came from the source side, one that is once in the topic from the sink side. Each run of consecutive ids is
 * shown with the publish times around it and the steps that ran then.
 */
export function traceViolations(input: TraceInput): string[] {
  const lines: string[] = [];
  const at = (time: number) => `t+${((time - input.origin) / 1000).toFixed(1)}s`;
  const near = (from: number, to: number) =>
    input.steps
      .filter((step) => step.end >= from - STEP_WINDOW_MS && step.start <= to + STEP_WINDOW_MS)
      .map((step) => `      ${at(step.start)}..${at(step.end)}  ${step.line.trim()}`);
  const published = (id: number) => input.topic.get(id)?.[0]?.publishTime;

  const describeRun = (label: string, [first, last]: [number, number], copies: (id: number) => TopicCopy[]) => {
    const count = last - first + 1;
    let inTopic = 0;
    for (let id = first; id <= last; id++) if (copies(id).length > 0) inTopic++;
    lines.push(`    ids ${first}-${last} (${count}) ${label}: ${inTopic} of them in the topic`);
    for (const id of new Set([first, last])) {
      const list = copies(id);
      const where = list.map((c) => `${c.messageId} ${c.producerName}#${c.sequenceId} at ${at(c.publishTime)}`);
      lines.push(`      id ${id}: ${where.length > 0 ? where.join("; ") : "not in the topic"}`);
    }
    // The records published just before and after the run bound the time it was produced in.
    const before = published(first - 1);
    const after = published(last + 1);
    const times = [before, after, published(first), published(last)].filter((t): t is number => t !== undefined);
    if (before !== undefined) lines.push(`      id ${first - 1} (before) published at ${at(before)}`);
    if (after !== undefined) lines.push(`      id ${last + 1} (after) published at ${at(after)}`);
    if (times.length > 0) {
      const steps = near(Math.min(...times), Math.max(...times));
      lines.push(steps.length > 0 ? "      steps around then:" : "      no step ran around then", ...steps);
    }
  };

  const copiesOf = (id: number) => input.topic.get(id) ?? [];
  if (input.lossForbidden) {
    const lost: number[] = [];
    for (let id = 1; id <= input.expected; id++) if ((input.rows.get(id) ?? 0) === 0) lost.push(id);
    const runs = idRuns(lost);
    const notInTopic = lost.filter((id) => copiesOf(id).length === 0).length;
    if (lost.length > 0) {
      lines.push(
        `  lost: ${lost.length} ids in ${runs.length} run(s); ${notInTopic} never reached the topic (source side), ` +
          `${lost.length - notInTopic} are in the topic but not in the table (sink side)`,
      );
      for (const run of runs.slice(0, MAX_RUNS)) describeRun("lost", run, copiesOf);
    }
  }
  if (input.duplicationForbidden) {
    const duplicated = [...input.rows].filter(([id, n]) => n > 1 && id >= 1 && id <= input.expected).map(([id]) => id);
    const runs = idRuns(duplicated);
    const twiceInTopic = duplicated.filter((id) => copiesOf(id).length > 1).length;
    if (duplicated.length > 0) {
      lines.push(
        `  duplicated: ${duplicated.length} ids in ${runs.length} run(s); ${twiceInTopic} are more than once in the ` +
          `topic (source side), ${duplicated.length - twiceInTopic} once (sink side)`,
      );
      for (const run of runs.slice(0, MAX_RUNS)) describeRun("duplicated", run, copiesOf);
    }
  }
  return lines;
}
