import type { z } from "zod";
import type { ConfigSchema } from "./config.ts";
import type { SinkContext, SourceContext } from "./context.ts";
import type { PulsarPosition, SinkRecord, SourceRecord, WriteOutcome } from "./records.ts";

/** Version of the definition contract; the runtime refuses definitions it does not know. */
export const CONNECTOR_API_VERSION = 1;

/** Brand of a sink definition. */
export const SINK_BRAND = "pulsar-connect.sink";
/** Brand of a source definition. */
export const SOURCE_BRAND = "pulsar-connect.source";

/**
 * How a sink instance wants its input grouped into writes, when one write becomes one unit of output (a file, an
 * object). The runtime waits up to `maxWaitMs` after the first record for `maxRecords` records or `maxBytes` bytes of
 * payload, whichever comes first. A write always ends on a Pulsar entry boundary, so it may go a little past them.
 */
export interface SinkBatching {
  maxRecords?: number;
  maxBytes?: number;
  maxWaitMs?: number;
}

/** A running sink instance, created by {@link SinkSpec.open}. */
export interface SinkInstance {
  /** Grouping of records into writes this instance asks for; the runtime's defaults otherwise. */
  readonly batching?: SinkBatching;
  /**
   * Writes a batch. Resolves when every record is durable (or with the records that failed); rejects when none
   * can be considered written. The runtime acks, retries or dead-letters according to the guarantee.
   */
  write(records: SinkRecord[]): Promise<void | WriteOutcome>;
  /**
   * For sinks declaring `storesPositions`: the last position stored with the data, per topic (partition).
   * The runtime resumes right after these positions.
   */
  storedPositions?(): Promise<PulsarPosition[]>;
  /** Releases every resource. Called once, after the last write settled. */
  close(): Promise<void>;
}

/** What a source's `read` is given. */
export interface ReadOptions {
  /** Upper bound on the number of records to return. */
  maxRecords: number;
  /** Aborted when the instance stops; a pending read should then resolve with what it has. */
  signal: AbortSignal;
}

/** A running source instance, created by {@link SourceSpec.open}. */
export interface SourceInstance {
  /**
   * Returns the next records (an empty array when none arrived in a while), or `null` when the source is
   * exhausted. The runtime stops calling while its in-flight window is full.
   */
  read(options: ReadOptions): Promise<SourceRecord[] | null>;
  /** Releases every resource. Called once, after the last record was acked or failed. */
  close(): Promise<void>;
}

/** What a sink connector declares. */
export interface SinkSpec<S extends ConfigSchema> {
  /** Connector name (`--sink-type`, `builtin://<name>`). */
  name: string;
  /** One line for `available-sinks`. */
  description: string;
  /** Config schema: validation, defaults, docs, sensitive fields. */
  config: S;
  /** The sink stores the Pulsar position of each record atomically with the record (effectively-once). */
  storesPositions?: boolean;
  /** Preferred batch size (records per `write`). */
  batchSize?: number;
  /** The sink honours `SinkRecord.destinationTopic` (set by a transform function) to route a record. */
  routesByDestination?: boolean;
  /** Opens an instance with validated config. */
  open(config: z.output<S>, context: SinkContext): Promise<SinkInstance>;
}

/** What a source connector declares. */
export interface SourceSpec<S extends ConfigSchema> {
  /** Connector name (`--source-type`, `builtin://<name>`). */
  name: string;
  /** One line for `available-sources`. */
  description: string;
  /** Config schema: validation, defaults, docs, sensitive fields. */
  config: S;
  /** Opens an instance with validated config. */
  open(config: z.output<S>, context: SourceContext): Promise<SourceInstance>;
}

/** A branded sink definition: the default export of a sink package. */
export interface SinkDefinition<S extends ConfigSchema = ConfigSchema> extends SinkSpec<S> {
  /** Brand checked by the runtime (no instanceof: two copies of core must work together). */
  readonly $$type: typeof SINK_BRAND;
  /** Contract version. */
  readonly apiVersion: number;
}

/** A branded source definition: the default export of a source package. */
export interface SourceDefinition<S extends ConfigSchema = ConfigSchema> extends SourceSpec<S> {
  /** Brand checked by the runtime. */
  readonly $$type: typeof SOURCE_BRAND;
  /** Contract version. */
  readonly apiVersion: number;
}

/** Declares a sink connector. */
export function defineSink<S extends ConfigSchema>(spec: SinkSpec<S>): SinkDefinition<S> {
  return Object.freeze({ ...spec, $$type: SINK_BRAND, apiVersion: CONNECTOR_API_VERSION });
}

/** Declares a source connector. */
export function defineSource<S extends ConfigSchema>(spec: SourceSpec<S>): SourceDefinition<S> {
  return Object.freeze({ ...spec, $$type: SOURCE_BRAND, apiVersion: CONNECTOR_API_VERSION });
}

/** True when `value` is a sink definition of a supported contract version. */
export function isSinkDefinition(value: unknown): value is SinkDefinition {
  return isBranded(value, SINK_BRAND);
}

/** True when `value` is a source definition of a supported contract version. */
export function isSourceDefinition(value: unknown): value is SourceDefinition {
  return isBranded(value, SOURCE_BRAND);
}

function isBranded(value: unknown, brand: string): boolean {
  if (!value || typeof value !== "object") return false;
  const candidate = value as { $$type?: unknown; apiVersion?: unknown; open?: unknown; name?: unknown };
  return (
    candidate.$$type === brand &&
    candidate.apiVersion === CONNECTOR_API_VERSION &&
    typeof candidate.open === "function" &&
    typeof candidate.name === "string"
  );
}
