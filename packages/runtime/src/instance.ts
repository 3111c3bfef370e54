import {
  type FieldIssue,
  type FunctionDefinition,
  type Logger,
  parseConfig,
  type SinkDefinition,
  type SourceDefinition,
  type StateStore,
  silentLogger,
  type WriteRetries,
} from "@pulsar-connect/core/host";
import { PulsarAdmin, PulsarClientError, topicsPatternMatcher } from "@pulsar-connect/pulsar-client";
import { isValidTopicName, qualifyTopic, type ResolvedSinkConfig, type ResolvedSourceConfig } from "./config.ts";
import { secretResolver } from "./internal/context.ts";
import { LogTopicPublisher } from "./internal/log-topic.ts";
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
  /**
   * Forced stop, after a graceful stop took too long: closes the connector and the instance's Pulsar consumers and
   * producers at once (releasing Kafka partitions and Failover subscriptions), abandoning in-flight work.
   */
  forceStop?(): Promise<void>;
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
  /** Token for the admin REST API, when the broker needs one; a function is asked before each call (OAuth2). */
  authToken?: string | (() => Promise<string>) | undefined;
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
  /** The function `config.transformFunction` names, when it names one. */
  transformFunction?: FunctionDefinition | undefined;
  /**
   * The embedding host's retries of retryable write failures (default: until the instance stops, backoff 200 ms
   * doubling to 30 s); once used up the instance fails. Fields the sink derives from its own config (`writeRetries` of
   * its definition) take precedence. The worker and `localrun` do not set it.
   */
  writeRetries?: WriteRetries | undefined;
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
    if (options.transformFunction !== undefined) sinkOptions.transformFunction = options.transformFunction;
    if (options.writeRetries !== undefined) sinkOptions.writeRetries = options.writeRetries;
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

/** Topics of the pattern's namespace that the pattern matches, the way the sink's consumer chose them. */
async function topicsMatching(admin: PulsarAdmin, pattern: string): Promise<string[]> {
  const namespace = /^(?:persistent:\/\/)?([^/]+\/[^/]+)\//.exec(pattern)?.[1];
  if (namespace === undefined) return [];
  const matcher = topicsPatternMatcher(pattern);
  // The namespace's list names every partition; a partition belongs to the pattern when its topic does.
  const topics = (await admin.getTopics(namespace)) as string[];
  return topics.filter((topic) => matcher.test(topic.replace(/-partition-\d+$/, "")));
}

/**
 * Deletes a sink's subscription (used when a sink is deleted): on every input topic and its partitions, and on
 * every topic its `topicsPattern` matches. Throws after trying them all when some could not be deleted.
 */
export async function deleteSinkSubscription(
  config: ResolvedSinkConfig,
  pulsar: Omit<InstancePulsar, "client">,
): Promise<void> {
  const admin = new PulsarAdmin({
    serviceUrl: pulsar.adminUrl,
    ...(pulsar.authToken ? { authToken: pulsar.authToken } : {}),
  });
  const targets = new Set<string>();
  for (const topic of config.inputs) {
    if (!isValidTopicName(topic)) continue;
    const { partitions } = await admin.getPartitionedTopicMetadata(topic).catch(() => ({ partitions: 0 }));
    if (partitions > 0) for (let i = 0; i < partitions; i += 1) targets.add(`${topic}-partition-${i}`);
    else targets.add(topic);
  }
  if (config.topicsPattern) for (const topic of await topicsMatching(admin, config.topicsPattern)) targets.add(topic);
  const failures: string[] = [];
  for (const topic of targets) {
    try {
      await admin.deleteSubscription(topic, config.sourceSubscriptionName, { force: true });
    } catch (error) {
      if (error instanceof PulsarClientError && error.httpStatus === 404) continue;
      failures.push(`${topic}: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`could not delete subscription ${config.sourceSubscriptionName} on ${failures.join("; ")}`);
  }
}
