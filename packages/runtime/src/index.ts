export {
  archiveOf,
  type BatchingConfig,
  builtinName,
  type ConsumerConfig,
  checkTopicsPattern,
  isValidTopicName,
  mergeSinkUpdate,
  mergeSourceUpdate,
  type ProducerConfig,
  parseTopic,
  qualifyTopic,
  type Resolved,
  type ResolvedSinkConfig,
  type ResolvedSourceConfig,
  type Resources,
  referencedTenants,
  resolveSinkConfig,
  resolveSourceConfig,
  type SinkConfig,
  type SourceConfig,
} from "./config.ts";
export { COMPRESSION_TYPES, configWarnings, DECLARABLE_SCHEMA_TYPES } from "./config-fields.ts";
export {
  ConnectorCatalog,
  type DiscoveredConnector,
  type DiscoveredFunction,
  type DiscoveryOptions,
  type DiscoveryProblem,
  loadConnectorPackage,
  type ReloadResult,
} from "./discovery.ts";
export {
  type ConnectorInstance,
  createInstance,
  deleteSinkSubscription,
  type InstancePulsar,
  type SinkInstanceOptions,
  type SourceInstanceOptions,
  validateConnectorConfigs,
} from "./instance.ts";
export { deduplicationEnabled } from "./internal/source-runner.ts";
export {
  heapLimitMiB,
  INSTANCE_RUNTIMES,
  type InstanceRuntime,
  MIN_PROCESS_RAM_BYTES,
  parseCustomRuntimeOptions,
  parseRuntimeFlags,
} from "./runtime-options.ts";
export { PulsarStateStore, type PulsarStateStoreOptions, stateTopic } from "./state.ts";
export {
  type ExceptionInformation,
  InstanceStats,
  LATENCY_BUCKET_BOUNDS_MS,
  LatencyHistogram,
  type SinkInstanceStatusData,
  type SourceInstanceStatusData,
} from "./stats.ts";
export {
  checkTransformFunction,
  hasTransformFunction,
  type InstalledFunction,
  transformFunctionConfigOf,
  transformFunctionName,
} from "./transform-function.ts";
