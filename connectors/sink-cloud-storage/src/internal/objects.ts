import type { PulsarPosition, SinkRecord } from "@pulsar-connect/core";
import { type KeyLayout, objectName, topicFolder } from "./object-key.ts";
import { formatTime, type TimePatternPart } from "./time-pattern.ts";

/** How records are spread over folders: by topic partition only, or also by time. */
export type Partitioning = { type: "partition" } | { type: "time"; pattern: TimePatternPart[]; durationMs: number };

export interface ObjectLimits {
  maxRecords: number;
  /** Payload bytes (before formatting) after which an object is closed. */
  maxBytes: number;
}

/** One record on its way into an object. */
export interface PlannedRow<Row> {
  record: SinkRecord;
  row: Row;
  groupKey: string;
}

/** The records of one object, in the order they were received. */
export interface PlannedObject<Row> {
  topic: string;
  key: string;
  rows: PlannedRow<Row>[];
}

function comparePositions(a: PulsarPosition, b: PulsarPosition): number {
  if (a.ledgerId !== b.ledgerId) return a.ledgerId < b.ledgerId ? -1 : 1;
  if (a.entryId !== b.entryId) return a.entryId < b.entryId ? -1 : 1;
  return a.batchIndex - b.batchIndex;
}

/** The time folder of a record: event time when it has one, else publish time, rounded down to the duration. */
function timeFolder(partitioning: Partitioning, record: SinkRecord): string {
  if (partitioning.type !== "time") return "";
  const time = record.eventTime ?? record.publishTime;
  const start = Math.floor(time / partitioning.durationMs) * partitioning.durationMs;
  return `${formatTime(partitioning.pattern, start)}/`;
}

/**
 * Cuts the rows of a write into objects. An object holds a run of consecutive records of one topic (partition) that
 * share a folder and a group key (the schema of typed files), within the limits. Per topic the objects come in
 * the order of their records, so uploading them one after the other leaves no gap behind a crash.
 */
export function planObjects<Row>(
  rows: readonly PlannedRow<Row>[],
  layout: KeyLayout,
  partitioning: Partitioning,
  limits: ObjectLimits,
  extension: string,
): Map<string, PlannedObject<Row>[]> {
  const byTopic = new Map<string, { folder: string; groupKey: string; bytes: number; rows: PlannedRow<Row>[] }[]>();
  for (const planned of rows) {
    const topic = planned.record.topicName;
    const folder = topicFolder(layout, topic) + timeFolder(partitioning, planned.record);
    let runs = byTopic.get(topic);
    if (!runs) {
      runs = [];
      byTopic.set(topic, runs);
    }
    const current = runs.at(-1);
    const size = planned.record.data.length;
    if (
      current &&
      current.folder === folder &&
      current.groupKey === planned.groupKey &&
      current.rows.length < limits.maxRecords &&
      current.bytes + size <= limits.maxBytes
    ) {
      current.rows.push(planned);
      current.bytes += size;
    } else {
      runs.push({ folder, groupKey: planned.groupKey, bytes: size, rows: [planned] });
    }
  }
  const plan = new Map<string, PlannedObject<Row>[]>();
  for (const [topic, runs] of byTopic) {
    plan.set(
      topic,
      runs.map((run) => {
        const positions = run.rows.map((planned) => planned.record.position).sort(comparePositions);
        const name = objectName(positions[0] as PulsarPosition, positions.at(-1) as PulsarPosition, extension);
        return { topic, key: run.folder + name, rows: run.rows };
      }),
    );
  }
  return plan;
}
