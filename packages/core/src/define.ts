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

/**
 * A setting a sink declares either once for all its instances (`T`), or as a function of an instance's parsed config,
 * so that a config field of the connector can decide it.
 */
// Method shorthand keeps the parameter bivariant: a definition typed with its own config stays a `SinkDefinition`.
export type SinkSetting<C, T> = T | { derive(config: C): T }["derive"];

/**
 * How the runtime retries a write that failed with a retryable error (a rejected `write()`, or records reported as
 * failed with a retryable `ConnectorError`), with its one exponential backoff. Fields left out take the runtime's
 * settings.
 */
export interface WriteRetries {
  /**
   * Retries in a row before the instance fails with the reason (its records stay unacknowledged and come again after
   * the restart; a passing failure never dead-letters or passes over a record); a write that stores any record starts
   * the count again. A whole number, or `Infinity` (retry until the instance stops). The runtime's default is
   * `Infinity`.
   */
  maxRetries?: number;
  /** Delay before the first retry in ms (default 200); it doubles per retry, with ±10 % jitter. */
  initialBackoffMs?: number;
  /** Upper bound of the delay in ms (default 30,000). */
  maxBackoffMs?: number;
}

/** A running sink instance, created by {@link SinkSpec.open}. */
export interface SinkInstance {
  /** Grouping of records into writes this instance asks for; the runtime's defaults otherwise. */
  readonly batching?: SinkBatching;
  /**
   * Writes a batch. Resolves when every record is durable (or with the records that failed); rejects when none
   * can be considered written. The runtime acks, retries or dead-letters according to the guarantee.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a write that returns nothing (`async write() {}`) is Promise<void>
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
  /**
   * How many `write()` calls of one instance may be in flight at once: a positive whole number, or a function of the
   * instance's parsed config (e.g. `(config) => config.maxConcurrentRequests`). Default 1: each write waits for the
   * one before, as the runtime always did. This is the connector's only concurrency control: a sink keeps no limiter
   * of its own, and each `write()` should put one request at a time to the external system, so that `maxInFlight`
   * bounds the requests in flight.
   *
   * The runtime keeps acknowledgement exact: under ATLEAST_ONCE a record is acked only once its own write resolved,
   * whichever batch finishes first. A sink that `storesPositions` (under every guarantee), EFFECTIVELY_ONCE
   * (cumulative acks), `retainOrdering` and `retainKeyOrdering` write one batch at a time whatever is declared here,
   * and say so in the instance's log. Under ATMOST_ONCE the acks still precede the writes, in order.
   */
  maxInFlight?: SinkSetting<z.output<S>, number>;
  /**
   * How the runtime retries this sink's retryable write failures, for one instance: fixed, or a function of the
   * parsed config (a connector's `retries` field maps here). Which errors are retryable is still each error's
   * `retryable` flag. Fields left out take the runtime's settings; ATMOST_ONCE never retries a write.
   */
  writeRetries?: SinkSetting<z.output<S>, WriteRetries>;
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
