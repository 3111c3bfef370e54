import { defineSource, type SourceDefinition, type SourceRecord, z } from "@pulsar-connect/core";
import { type Order, order, type Person, person, type RecordType, SCHEMAS } from "./internal/records.ts";

const config = z.object({
  recordType: z
    .enum(["people", "orders"])
    .default("people")
    .describe("Which records to generate: people or orders (JSON, with an Avro-style schema)"),
  ratePerSecond: z
    .number()
    .min(0, "must be >= 0 (0 = as fast as possible)")
    .default(100)
    .describe("Records per second per instance; 0 generates as fast as the runtime takes them"),
  maxRecords: z
    .number()
    .int()
    .min(0, "must be >= 0 (0 = unbounded)")
    .default(0)
    .describe("Records each instance generates before it ends, across restarts (0 = unbounded)"),
  partitions: z
    .number()
    .int()
    .min(1, "must be at least 1")
    .max(1024, "must be at most 1024")
    .default(1)
    .describe("Partitions per instance, each with its own partitionId and monotonic sequence (for EFFECTIVELY_ONCE)"),
});

/** The config schema of the data generator. */
export type DataGeneratorConfigSchema = typeof config;

/** The validated config of the data generator. */
export type DataGeneratorConfig = z.output<typeof config>;

/** Key of an instance's position in the connector's state store. */
function positionKey(instanceId: number): string {
  return `data-generator-position-${instanceId}`;
}

/** How often the position is written while records are being acknowledged. */
const SAVE_EVERY_MS = 1000;

/**
 * The data-generator source. Record number n of an instance goes to partition n % partitions with sequence
 * n / partitions, and its content follows from its number alone: after a restart the same sequences carry the same
 * records, so broker deduplication drops what was already published under EFFECTIVELY_ONCE. Acknowledged records
 * move the instance's position, kept in the state store, and a restart resumes there: it neither produces the
 * records it already delivered again nor waits, at its rate, for as long as the previous run lasted.
 */
const dataGeneratorSource: SourceDefinition<DataGeneratorConfigSchema> = defineSource({
  name: "data-generator",
  description: "Generates typed JSON records (people or orders) at a set rate, for demos and benchmarks",
  config,
  async open(settings, context) {
    const partitionIds = Array.from(
      { length: settings.partitions },
      (_, partition) => `data-generator-${context.name}-${context.instanceId}-${partition}`,
    );
    const schema = { type: "JSON" as const, definition: SCHEMAS[settings.recordType as RecordType] };
    const make: (id: number) => Person | Order = settings.recordType === "orders" ? order : person;
    const rate = settings.ratePerSecond;
    const key = positionKey(context.instanceId);
    const stored = await context.state.get(key);
    /** Number of the first record not known to be delivered: every record before it was acknowledged. */
    const start = stored ? Number(new TextDecoder().decode(stored)) : 0;
    let position = Number.isSafeInteger(start) && start > 0 ? start : 0;
    let savedPosition = position;
    const acked = new Set<number>();
    let saving: Promise<void> | undefined;
    let lastSave = Date.now();
    let next = position;
    let emitted = 0;
    let startedAt = performance.now();

    function save(): Promise<void> {
      if (position === savedPosition) return saving ?? Promise.resolve();
      const value = position;
      const write = (saving ?? Promise.resolve())
        .then(() => context.state.put(key, new TextEncoder().encode(String(value))))
        .then(() => {
          savedPosition = Math.max(savedPosition, value);
        })
        .catch((error: unknown) =>
          context.logger.warn({ error: String(error) }, "data-generator: could not save its position"),
        );
      saving = write;
      lastSave = Date.now();
      return write;
    }

    /** The next write of the position, not started yet: acks that come before it starts share it. */
    let nextWrite: Promise<void> | undefined;

    /** Writes the position as it is when the write starts, after the writes before it; failures reach the caller. */
    function persist(): Promise<void> {
      if (nextWrite) return nextWrite;
      const write = (saving ?? Promise.resolve())
        .catch(() => {})
        .then(async () => {
          nextWrite = undefined;
          const value = position;
          await context.state.put(key, new TextEncoder().encode(String(value)));
          savedPosition = Math.max(savedPosition, value);
        });
      nextWrite = write;
      saving = write;
      lastSave = Date.now();
      return write;
    }

    /**
     * Under ATMOST_ONCE the runtime sends a record only once its ack settled, so the ack settles when the position
     * past the record is stored: a crash after the send then resumes after it. Otherwise records are resent after a
     * crash anyway (the broker drops them under EFFECTIVELY_ONCE), and the position is written about once a second.
     */
    const storesBeforeSend = context.processingGuarantee === "ATMOST_ONCE";

    function acknowledged(n: number): Promise<void> | undefined {
      acked.add(n);
      while (acked.delete(position)) position += 1;
      if (storesBeforeSend) return persist();
      if (Date.now() - lastSave >= SAVE_EVERY_MS) void save();
      return undefined;
    }

    /** How many records are due now (at least one when the rate is unlimited). */
    function budget(): number {
      if (rate === 0) return Number.POSITIVE_INFINITY;
      let due = Math.floor(((performance.now() - startedAt) * rate) / 1000) + 1 - emitted;
      if (due > Math.max(rate, 1)) {
        // The reader paused for a while: carry on at the rate instead of bursting to catch up.
        startedAt = performance.now() - (emitted * 1000) / rate;
        due = 1;
      }
      return due;
    }

    return {
      async read({ maxRecords, signal }) {
        const stop = AbortSignal.any([signal, context.signal]);
        const remaining = settings.maxRecords > 0 ? settings.maxRecords - next : Number.POSITIVE_INFINITY;
        if (remaining <= 0) return null;
        if (stop.aborted) return [];
        let due = budget();
        if (due <= 0) {
          const wait = (emitted * 1000) / rate - (performance.now() - startedAt);
          await sleep(Math.max(1, wait), stop);
          if (stop.aborted) return [];
          due = Math.max(1, budget());
        }
        const count = Math.max(0, Math.min(maxRecords, remaining, due));
        const records: SourceRecord[] = new Array(count);
        const eventTime = Date.now();
        const { partitions } = settings;
        for (let i = 0; i < count; i++) {
          const n = next + i;
          const partition = n % partitions;
          const id = n * context.numInstances + context.instanceId + 1;
          records[i] = {
            value: make(id),
            key: String(id),
            eventTime,
            partitionId: partitionIds[partition] as string,
            sequence: BigInt((n - partition) / partitions),
            schema,
            ack: () => acknowledged(n),
          };
        }
        next += count;
        emitted += count;
        return records;
      },
      async close() {
        await save();
      },
    };
  },
});

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export default dataGeneratorSource;
export type { Order, Person, RecordType };
