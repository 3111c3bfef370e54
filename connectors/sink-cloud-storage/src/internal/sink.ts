import {
  ConnectorError,
  type PulsarPosition,
  type RecordFailure,
  type SinkBatching,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import { type ObjectFormat, RecordRefused } from "./formats/format.ts";
import { type KeyLayout, lastPositionOf, topicParts } from "./object-key.ts";
import { type ObjectLimits, type Partitioning, type PlannedRow, planObjects } from "./objects.ts";
import type { ObjectStore } from "./store.ts";

export interface SinkSettings {
  layout: KeyLayout;
  partitioning: Partitioning;
  limits: ObjectLimits;
  batchTimeMs: number;
  skipFailedMessages: boolean;
  contentType: string;
}

function laterOf(a: PulsarPosition | undefined, b: PulsarPosition): PulsarPosition {
  if (!a) return b;
  if (a.ledgerId !== b.ledgerId) return a.ledgerId > b.ledgerId ? a : b;
  if (a.entryId !== b.entryId) return a.entryId > b.entryId ? a : b;
  return a.batchIndex >= b.batchIndex ? a : b;
}

/** Writes each batch of records as objects named by their Pulsar positions; resolves once every upload completed. */
export class CloudStorageSink implements SinkInstance {
  readonly batching: SinkBatching;
  private readonly store: ObjectStore;
  private readonly format: ObjectFormat<unknown>;
  private readonly settings: SinkSettings;
  private readonly context: SinkContext;

  constructor(store: ObjectStore, format: ObjectFormat<unknown>, settings: SinkSettings, context: SinkContext) {
    this.store = store;
    this.format = format;
    this.settings = settings;
    this.context = context;
    this.batching = {
      maxRecords: settings.limits.maxRecords,
      maxBytes: settings.limits.maxBytes,
      maxWaitMs: settings.batchTimeMs,
    };
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome> {
    const failed: RecordFailure[] = [];
    const rows: PlannedRow<unknown>[] = [];
    let skipped = 0;
    records.forEach((record, index) => {
      try {
        const row = this.format.row(record);
        rows.push({ record, row, groupKey: this.format.groupKey(row) });
      } catch (error) {
        if (!(error instanceof RecordRefused)) throw error;
        if (this.settings.skipFailedMessages) {
          skipped++;
          this.context.logger.warn({ messageId: record.messageId, err: error.message }, "record skipped");
          return;
        }
        failed.push({ index, error: new ConnectorError("INVALID_RECORD", error.message, { retryable: false }) });
      }
    });
    if (skipped > 0) this.context.recordMetric("records_skipped", skipped);
    const plan = planObjects(
      rows,
      this.settings.layout,
      this.settings.partitioning,
      this.settings.limits,
      this.format.extension,
    );
    // Topics in parallel; the objects of one topic one after the other, in the order of their records.
    await Promise.all(
      [...plan.values()].map(async (objects) => {
        for (const object of objects) {
          const body = this.format.encode(
            object.rows.map((planned) => planned.row),
            object.key,
          );
          await this.store.put(object.key, body, this.settings.contentType);
          this.context.recordMetric("objects_written", 1);
          this.context.recordMetric("bytes_written", body.length);
        }
      }),
    );
    return { failed };
  }

  /** The last position of every input topic (partition) found in the object names under its folder. */
  async storedPositions(): Promise<PulsarPosition[]> {
    const latest = new Map<string, PulsarPosition>();
    for (const input of this.context.inputTopics) {
      const parts = topicParts(input);
      const base = `${this.settings.layout.pathPrefix}${parts.tenant}/${parts.namespace}/${parts.topic}`;
      for await (const key of this.store.keys(base)) {
        const rest = key.slice(base.length);
        const partition =
          /^-partition-(\d+)\//.exec(rest)?.[1] ??
          (this.settings.layout.slicePartitionPath ? /^\/partition-(\d+)\//.exec(rest)?.[1] : undefined);
        if (partition === undefined && !rest.startsWith("/")) continue;
        const position = lastPositionOf(key);
        if (!position) continue;
        const topic = `${parts.domain}://${parts.tenant}/${parts.namespace}/${parts.topic}${partition === undefined ? "" : `-partition-${partition}`}`;
        latest.set(topic, laterOf(latest.get(topic), { topic, ...position }));
      }
    }
    return [...latest.values()];
  }

  async close(): Promise<void> {
    this.store.close();
  }
}
