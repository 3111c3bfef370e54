/** The zod instance connectors declare their config schemas with (one copy, shared with core). */
export { z } from "zod";
export { connectorManifestSchema } from "./manifest-schema.ts";
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
} from "./host.ts";
export type {
  ConnectorContext,
  SinkContext,
  SourceContext,
  StateStore,
} from "./host.ts";
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
} from "./host.ts";
export {
  ConnectorError,
  type ConnectorErrorCode,
  type ConnectorErrorOptions,
  type FieldIssue,
  toConnectorError,
} from "./host.ts";
export {
  defineFunction,
  FUNCTION_BRAND,
  type FunctionContext,
  type FunctionDefinition,
  type FunctionRecord,
  type FunctionResult,
  type FunctionSpec,
  isFunctionDefinition,
} from "./host.ts";
export {
  DEFAULT_PROCESSING_GUARANTEE,
  isProcessingGuarantee,
  PROCESSING_GUARANTEES,
  type ProcessingGuarantee,
  type SubscriptionType,
  sinkSubscriptionType,
} from "./host.ts";
export {
  confinedHostPath,
  HOST_FILE_DIRS_ENV,
} from "./host.ts";
export {
  type LogFields,
  type Logger,
  silentLogger,
} from "./host.ts";
export {
  type ConnectorManifest,
  expectedPackageFolder,
  readConnectorManifest,
} from "./host.ts";
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
} from "./host.ts";
export {
  writeEach,
} from "./host.ts";
