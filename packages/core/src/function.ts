import type { z } from "zod";
import type { ConfigSchema } from "./config.ts";
import { CONNECTOR_API_VERSION } from "./define.ts";
import type { Logger } from "./logger.ts";
import type { RecordSchema } from "./records.ts";

/** Brand of a function definition. */
export const FUNCTION_BRAND = "pulsar-connect.function";

/**
 * A record as a transform function sees it, on its way from a sink's input topic to the sink. The function may change
 * any writable field (or return another object); the runtime hands the result to the sink.
 */
export interface FunctionRecord<T = unknown> {
  /** The decoded value (bytes, string, or object for JSON/Avro topics). */
  value: T;
  /** Message key. */
  key?: string | undefined;
  /** Message properties. */
  properties: Record<string, string>;
  /**
   * Where the record should go instead of the sink's configured destination (a table, topic or collection,
   * as the sink names them). Undefined keeps the configured one; a sink that cannot route refuses the record.
   */
  destinationTopic?: string | undefined;
  /** Schema of the value. When the value changes and this is left as it was, the value is passed on as JSON. */
  schema?: RecordSchema | undefined;
  /** Topic the message was read from. */
  readonly topicName: string;
  /** Event time, epoch milliseconds. */
  readonly eventTime?: number | undefined;
}

/** What a function returns: the record to write, or null/undefined to drop it (it is then acknowledged). */
export type FunctionResult = FunctionRecord | null | undefined;

/** What a function instance is told about the connector it runs in. */
export interface FunctionContext {
  /** Tenant of the connector. */
  readonly tenant: string;
  /** Namespace of the connector. */
  readonly namespace: string;
  /** Name of the connector the function runs in. */
  readonly name: string;
  /** The connector instance's id, 0-based. */
  readonly instanceId: number;
  /** Logger with the connector's identity bound. */
  readonly logger: Logger;
}

/** What a function package declares. */
export interface FunctionSpec<S extends ConfigSchema> {
  /** Function name (`--transform-function builtin://<name>`). */
  name: string;
  /** One line for listings. */
  description: string;
  /** Config schema (`--transform-function-config`): validated with field-level errors before anything runs. */
  config: S;
  /**
   * Transforms one record. Sync or async; throwing fails that record, which the runtime then settles as the
   * processing guarantee says (dead-letter topic when configured).
   */
  process(
    record: FunctionRecord,
    config: z.output<S>,
    context: FunctionContext,
  ): FunctionResult | Promise<FunctionResult>;
}

/** A branded function definition: the default export of a function package. */
export interface FunctionDefinition<S extends ConfigSchema = ConfigSchema> extends FunctionSpec<S> {
  /** Brand checked by the runtime (no instanceof: two copies of core must work together). */
  readonly $$type: typeof FUNCTION_BRAND;
  /** Contract version. */
  readonly apiVersion: number;
}

/** Declares a function (a sink transform). */
export function defineFunction<S extends ConfigSchema>(spec: FunctionSpec<S>): FunctionDefinition<S> {
  return Object.freeze({ ...spec, $$type: FUNCTION_BRAND, apiVersion: CONNECTOR_API_VERSION });
}

/** True when `value` is a function definition of a supported contract version. */
export function isFunctionDefinition(value: unknown): value is FunctionDefinition {
  if (!value || typeof value !== "object") return false;
  const candidate = value as { $$type?: unknown; apiVersion?: unknown; process?: unknown; name?: unknown };
  return (
    candidate.$$type === FUNCTION_BRAND &&
    candidate.apiVersion === CONNECTOR_API_VERSION &&
    typeof candidate.process === "function" &&
    typeof candidate.name === "string"
  );
}
