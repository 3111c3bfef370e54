import type { ProcessingGuarantee, SubscriptionType } from "./guarantees.ts";
import type { Logger } from "./logger.ts";
import type { PulsarPosition } from "./records.ts";

/** Durable key/value state of one connector (all instances share it). */
export interface StateStore {
  /** The value stored under `key`, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores `value` under `key`. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Removes `key`. */
  delete(key: string): Promise<void>;
  /** Adds `by` to the counter `key` and returns the new value. */
  incrCounter(key: string, by: bigint | number): Promise<bigint>;
  /** Current value of the counter `key` (0 when never set). */
  getCounter(key: string): Promise<bigint>;
}

/** What every connector instance is told about itself and may use. */
export interface ConnectorContext {
  /** Tenant of the connector. */
  readonly tenant: string;
  /** Namespace of the connector. */
  readonly namespace: string;
  /** Name of the connector. */
  readonly name: string;
  /** This instance's id, 0-based. */
  readonly instanceId: number;
  /** How many instances run (the parallelism). */
  readonly numInstances: number;
  /** Logger with the connector's identity bound. */
  readonly logger: Logger;
  /** Aborted when the instance is being stopped. */
  readonly signal: AbortSignal;
  /**
   * The instance's processing guarantee, when the runtime tells it.
   * - A sink that stores positions under EFFECTIVELY_ONCE must not let a stored position cover a record it refused:
   *   it stops at the refused record and reports the later ones as retryable, so the runtime settles the refused one
   *   first.
   * - A source under ATMOST_ONCE must have made its position durable when a record's `ack()` settles: the runtime
   *   awaits the acks of a batch before it sends the batch, so a crash after the send never brings a record again.
   */
  readonly processingGuarantee?: ProcessingGuarantee;
  /** The secret named `name` from the connector's `secrets`, or undefined. */
  getSecret(name: string): string | undefined;
  /** Durable state shared by the connector's instances. */
  readonly state: StateStore;
  /** Records a user metric value (exported as `pulsar_<kind>_user_metric_` with label `metric`). */
  recordMetric(name: string, value: number): void;
  /** Ends this instance with `error`; the worker restarts it. */
  fatal(error: unknown): void;
}

/** Context of a source instance. */
export interface SourceContext extends ConnectorContext {
  /** The configured output topic. */
  readonly outputTopic: string;
}

/** Context of a sink instance. */
export interface SinkContext extends ConnectorContext {
  /** Topics the sink reads. */
  readonly inputTopics: readonly string[];
  /** Subscription type of the sink's input. */
  readonly subscriptionType: SubscriptionType;
  /** Moves the input of `topic` back or forward to `position`. */
  seek(topic: string, position: PulsarPosition): Promise<void>;
  /** Stops delivering messages of `topic` (all topics when omitted). */
  pause(topic?: string): void;
  /** Resumes delivering messages of `topic` (all topics when omitted). */
  resume(topic?: string): void;
}
