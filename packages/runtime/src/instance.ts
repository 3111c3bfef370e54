import {
  type FieldIssue,
  type Logger,
  parseConfig,
  type SinkDefinition,
  type SourceDefinition,
  type StateStore,
  silentLogger,
} from "@pulsar-connect/core";
import { qualifyTopic, type ResolvedSinkConfig, type ResolvedSourceConfig } from "./config.ts";
import { secretResolver } from "./internal/context.ts";
import { LogTopicPublisher } from "./internal/log-topic.ts";
import { adminRequest, type ClientLike, type PulsarConnections, topicPath } from "./internal/pulsar.ts";
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
  const fqfn = `${config.tenant}/${config.namespace}/${config.name}`;
  const workerLogger = (options.logger ?? silentLogger).child({
    fqfn,
    instanceId: options.instanceId,
    kind: options.kind,
  });
  const logTopic = config.logTopic
    ? new LogTopicPublisher(
        options.pulsar.client,
        qualifyTopic(config.logTopic, config.tenant, config.namespace),
        fqfn,
        String(options.instanceId),
        workerLogger,
      )
    : undefined;
  const logger = logTopic ? logTopic.wrap(workerLogger) : workerLogger;
  const closingLogTopic = <T extends ConnectorInstance>(instance: T): T => {
    if (logTopic)
      instance.done.then(
        () => logTopic.close(),
        () => logTopic.close(),
      );
    return instance;
  };
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
    return closingLogTopic(new SinkRunner(sinkOptions));
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
  return closingLogTopic(new SourceRunner(sourceOptions));
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
  const connections = {
    client: undefined as unknown as ClientLike,
    adminUrl: pulsar.adminUrl,
    authToken: pulsar.authToken,
  };
  const subscription = encodeURIComponent(config.sourceSubscriptionName);
  for (const topic of config.inputs) {
    const path = topicPath(topic);
    const metadata = (await adminRequest(connections, "GET", `/admin/v2/${path}/partitions`).catch(() => undefined)) as
      | { partitions?: number }
      | undefined;
    const partitions = metadata?.partitions ?? 0;
    const targets = partitions > 0 ? Array.from({ length: partitions }, (_, i) => `${path}-partition-${i}`) : [path];
    for (const target of targets) {
      await adminRequest(connections, "DELETE", `/admin/v2/${target}/subscription/${subscription}?force=true`).catch(
        () => undefined,
      );
    }
  }
}
