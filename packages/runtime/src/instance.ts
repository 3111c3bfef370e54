import {
  type FieldIssue,
  type Logger,
  parseConfig,
  type SinkDefinition,
  type SourceDefinition,
  type StateStore,
  silentLogger,
} from "@pulsar-connect/core";
import { PulsarAdmin } from "@pulsar-connect/pulsar-client";
import { isValidTopicName, type ResolvedSinkConfig, type ResolvedSourceConfig } from "./config.ts";
import { secretResolver } from "./internal/context.ts";
import type { ClientLike, PulsarConnections } from "./internal/pulsar.ts";
import { SinkRunner } from "./internal/sink-runner.ts";
import { SourceRunner } from "./internal/source-runner.ts";
import { PulsarStateStore } from "./state.ts";
import type { InstanceStats, SinkInstanceStatusData, SourceInstanceStatusData } from "./stats.ts";

/** A running connector instance, as the worker supervises it. */
export interface ConnectorInstance {
  readonly kind: "source" | "sink";
  readonly instanceId: number;
  /** Opens the connector and starts moving data; rejects when it cannot start (bad config, unreachable system). */
  start(): Promise<void>;
  /** Graceful stop: stop pulling, finish in-flight work, ack, close. */
  stop(): Promise<void>;
  /** Settles when the instance ends: resolves after a stop or an exhausted source, rejects with the failure. */
  readonly done: Promise<void>;
  /** Upstream-shaped status (numRestarts is left to the supervisor). */
  status(): SinkInstanceStatusData | SourceInstanceStatusData;
  /** Counters for metrics. */
  readonly stats: InstanceStats;
}

/** Pulsar endpoints an instance uses. */
export interface InstancePulsar {
  /** A connected @pulsar-connect/pulsar-client PulsarClient. */
  client: ClientLike;
  /** Admin REST base URL, e.g. `http://127.0.0.1:8080`. */
  adminUrl: string;
  /** Token for the admin REST API, when the broker needs one. */
  authToken?: string | undefined;
}

/** Common options of {@link createInstance}. */
interface InstanceOptionsBase {
  instanceId: number;
  pulsar: InstancePulsar;
  logger?: Logger;
  workerId?: string;
  /** State store; defaults to one backed by a compacted Pulsar topic of the connector. */
  state?: StateStore;
  /** Sink records per write (sinks) or records in flight (sources). */
  batchSize?: number;
}

/** Options of a sink instance. */
export interface SinkInstanceOptions extends InstanceOptionsBase {
  kind: "sink";
  config: ResolvedSinkConfig;
  definition: SinkDefinition;
}

/** Options of a source instance. */
export interface SourceInstanceOptions extends InstanceOptionsBase {
  kind: "source";
  config: ResolvedSourceConfig;
  definition: SourceDefinition;
}

/** Creates (but does not start) one connector instance. */
export function createInstance(options: SinkInstanceOptions | SourceInstanceOptions): ConnectorInstance {
  const { config } = options;
  const pulsar: PulsarConnections = {
    client: options.pulsar.client,
    adminUrl: options.pulsar.adminUrl,
    authToken: options.pulsar.authToken,
  };
  const logger = (options.logger ?? silentLogger).child({
    fqfn: `${config.tenant}/${config.namespace}/${config.name}`,
    instanceId: options.instanceId,
    kind: options.kind,
  });
  const state =
    options.state ??
    new PulsarStateStore({ pulsar, tenant: config.tenant, namespace: config.namespace, name: config.name });
  const workerId = options.workerId ?? "standalone";
  if (options.kind === "sink") {
    const sinkOptions: ConstructorParameters<typeof SinkRunner>[0] = {
      config: options.config,
      definition: options.definition,
      instanceId: options.instanceId,
      pulsar,
      logger,
      state,
      workerId,
    };
    if (options.batchSize !== undefined) sinkOptions.batchSize = options.batchSize;
    return new SinkRunner(sinkOptions);
  }
  const sourceOptions: ConstructorParameters<typeof SourceRunner>[0] = {
    config: options.config,
    definition: options.definition,
    instanceId: options.instanceId,
    pulsar,
    logger,
    state,
    workerId,
  };
  if (options.batchSize !== undefined) sourceOptions.inFlightLimit = options.batchSize;
  return new SourceRunner(sourceOptions);
}

/** Validates a connector's `configs` (after secrets) against its schema; issue paths start with `configs.`. */
export function validateConnectorConfigs(
  definition: SinkDefinition | SourceDefinition,
  configs: unknown,
  secrets: Record<string, unknown> = {},
): FieldIssue[] {
  const result = parseConfig(definition.config, configs ?? {}, secretResolver(secrets));
  return result.ok ? [] : result.issues;
}

/** Deletes a sink's subscription on every input topic (used when a sink is deleted). */
export async function deleteSinkSubscription(
  config: ResolvedSinkConfig,
  pulsar: Omit<InstancePulsar, "client">,
): Promise<void> {
  const admin = new PulsarAdmin({
    serviceUrl: pulsar.adminUrl,
    ...(pulsar.authToken ? { authToken: pulsar.authToken } : {}),
  });
  for (const topic of config.inputs) {
    if (!isValidTopicName(topic)) continue;
    const metadata = await admin.getPartitionedTopicMetadata(topic).catch(() => undefined);
    const partitions = metadata?.partitions ?? 0;
    const targets = partitions > 0 ? Array.from({ length: partitions }, (_, i) => `${topic}-partition-${i}`) : [topic];
    for (const target of targets) {
      await admin.deleteSubscription(target, config.sourceSubscriptionName, { force: true }).catch(() => undefined);
    }
  }
}
