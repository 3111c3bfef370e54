import type { PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import type {
  ExceptionInformation,
  ResolvedSinkConfig,
  ResolvedSourceConfig,
  SinkInstanceStatusData,
  SourceInstanceStatusData,
} from "@pulsar-connect/runtime";

/** Messages between the worker and an instance process, over the Node IPC channel (JSON). */

/** What an instance process needs to run one instance. */
export interface LaunchSpec {
  kind: "sink" | "source";
  instanceId: number;
  /** The connector module to import (its default export is the definition). */
  entryModule: string;
  /** A sink's transform function module (its default export is the function definition), when it has one. */
  transformModule?: string | undefined;
  /** The connector config, secrets resolved. */
  config: ResolvedSinkConfig | ResolvedSourceConfig;
  /** Pulsar connection settings as plain data (an instance process builds its authentication from `auth`). */
  pulsar: { client: PulsarClientOptions; adminUrl: string; auth: PulsarAuthSettings };
  workerId: string;
  /** How often the process reports (heartbeat, status, counters). */
  reportIntervalMs: number;
}

/** The worker's Pulsar credentials as its settings give them: a token, or an authentication plugin and its params. */
export interface PulsarAuthSettings {
  token?: string | undefined;
  plugin?: string | undefined;
  params?: string | undefined;
}

/** Counters of an instance, as plain data. */
export interface StatsSnapshot {
  received: number;
  written: number;
  connectorExceptions: number;
  systemExceptions: number;
  deadLettered: number;
  dropped: number;
  acked: number;
  lastReceivedTime: number;
  lastWrittenTime: number;
  latestConnectorExceptions: ExceptionInformation[];
  latestSystemExceptions: ExceptionInformation[];
  userMetrics: Array<[string, { count: number; sum: number }]>;
  /** The instance's write-latency histogram counts (runtime's LATENCY_BUCKET_BOUNDS_MS). */
  writeLatency: number[];
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export type ToInstance = { type: "start"; spec: LaunchSpec } | { type: "stop" };

export type FromInstance =
  | { type: "heartbeat" }
  | { type: "report"; status: SinkInstanceStatusData | SourceInstanceStatusData; stats: StatsSnapshot }
  | { type: "started" }
  | { type: "startFailed"; error: string }
  | { type: "ended" }
  | { type: "failed"; error: string }
  | { type: "log"; level: LogLevel; fields: Record<string, unknown>; message: string | undefined };
