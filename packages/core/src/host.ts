// What hosts of connectors (the runtime, the worker, the CLI) use of core, without zod: zod is loaded with the
// first connector module (connectors declare their schemas with the `z` of the main entry), not by an idle host.
export {
  type ConfigFieldDefinition,
  type ConfigResult,
  type ConfigSchema,
  type ConfigWarning,
  compatOnly,
  compatOnlyKeys,
  compatWarnings,
  configFieldDefinitions,
  configJsonSchema,
  formatIssues,
  loadConfig,
  parseConfig,
  REDACTED,
  redactConfig,
  sensitive,
  sensitiveFields,
  toFieldIssues,
} from "./config.ts";
export type { ConnectorContext, SinkContext, SourceContext, StateStore } from "./context.ts";
export {
  CONNECTOR_API_VERSION,
  defineSink,
  defineSource,
  isSinkDefinition,
  isSourceDefinition,
  type ReadOptions,
  SINK_BRAND,
  type SinkBatching,
  type SinkDefinition,
  type SinkInstance,
  type SinkSetting,
  type SinkSpec,
  SOURCE_BRAND,
  type SourceDefinition,
  type SourceInstance,
  type SourceSpec,
  type WriteRetries,
} from "./define.ts";
export {
  ConnectorError,
  type ConnectorErrorCode,
  type ConnectorErrorOptions,
  type FieldIssue,
  toConnectorError,
} from "./errors.ts";
export {
  defineFunction,
  FUNCTION_BRAND,
  type FunctionContext,
  type FunctionDefinition,
  type FunctionRecord,
  type FunctionResult,
  type FunctionSpec,
  isFunctionDefinition,
} from "./function.ts";
export {
  DEFAULT_PROCESSING_GUARANTEE,
  isProcessingGuarantee,
  PROCESSING_GUARANTEES,
  type ProcessingGuarantee,
  type SubscriptionType,
  sinkSubscriptionType,
} from "./guarantees.ts";
export { confinedHostPath, HOST_FILE_DIRS_ENV } from "./host-files.ts";
export { type LogFields, type Logger, silentLogger } from "./logger.ts";
export {
  type ConnectorManifest,
  expectedPackageFolder,
  readConnectorManifest,
} from "./manifest.ts";
export type {
  KeyValue,
  KeyValueEncoding,
  KeyValueSchema,
  PulsarPosition,
  RecordFailure,
  RecordSchema,
  SchemaType,
  SinkRecord,
  SourceRecord,
  ValueSchema,
  WriteOutcome,
} from "./records.ts";
export { writeEach } from "./write-each.ts";
