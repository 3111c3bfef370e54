import type { ConfigWarning, FieldIssue } from "@pulsar-connect/core/host";
// Pattern checks live with the other topic-name rules; both modules only call each other's functions at run time.
import { checkTopicsPattern } from "./config.ts";
import { parseCustomRuntimeOptions, parseRuntimeFlags } from "./runtime-options.ts";
import { checkTransformFields } from "./transform-function.ts";

/**
 * Checks of the upstream SinkConfig/SourceConfig fields that the runtime either honours in its own way or refuses.
 * Rule: a field works as upstream documents it, or the config is refused naming the field; only `resources` (beyond
 * the process runtime's heap limit) and a deprecated `autoAck: false` are accepted with a warning.
 */

/** Schema types an input or output may declare (upstream's names, any case); AUTO_CONSUME means "the topic's". */
export const DECLARABLE_SCHEMA_TYPES = ["STRING", "BYTES", "JSON", "AVRO", "AUTO_CONSUME"] as const;
export type DeclarableSchemaType = (typeof DECLARABLE_SCHEMA_TYPES)[number];

/** Compression types the producer of a source can use (upstream ProducerConfig.compressionType). */
export const COMPRESSION_TYPES = ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"] as const;

const BATCH_BUILDERS = ["DEFAULT", "KEY_BASED"];

const NOT_SUPPORTED = {
  batchSourceConfig: "is not supported: there is no batch source runtime",
  logLevel: "is not supported: the worker's log level applies to every instance",
  topicToSchemaProperties: "is not supported: schema properties of inputs cannot be set",
  serdeClassName: "is not supported: Java SerDe classes cannot run here; records carry their own schema",
} as const;

const SERDE = "is not supported: Java SerDe classes cannot run here (leave it empty for the default)";
const CRYPTO = "is not supported: end-to-end encryption is not available";

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function positiveInteger(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) > 0;
}

/** Upper-case form of a declared schema type, or undefined when it is not one this runtime can honour. */
export function declaredSchemaType(value: unknown): DeclarableSchemaType | undefined {
  if (typeof value !== "string") return undefined;
  const upper = value.toUpperCase();
  return (DECLARABLE_SCHEMA_TYPES as readonly string[]).includes(upper) ? (upper as DeclarableSchemaType) : undefined;
}

function checkSchemaType(value: unknown, path: string, issues: FieldIssue[]): void {
  if (!present(value)) return;
  if (declaredSchemaType(value) === undefined) {
    issues.push({
      path,
      message: `'${String(value)}' is not supported (supported: ${DECLARABLE_SCHEMA_TYPES.join(", ")}; Java schema classes cannot run here)`,
    });
  }
}

// Upstream SinkConfig and SourceConfig (pulsar-client-admin-api) plus `logLevel`, which has its own refusal.
const COMMON_FIELDS = [
  "tenant",
  "namespace",
  "name",
  "className",
  "archive",
  "configs",
  "secrets",
  "parallelism",
  "processingGuarantees",
  "resources",
  "runtimeFlags",
  "customRuntimeOptions",
  "logTopic",
  "logLevel",
] as const;
const SINK_FIELDS: ReadonlySet<string> = new Set([
  ...COMMON_FIELDS,
  "sinkType",
  "sourceSubscriptionName",
  "sourceSubscriptionPosition",
  "inputs",
  "topicToSerdeClassName",
  "topicsPattern",
  "topicToSchemaType",
  "topicToSchemaProperties",
  "inputSpecs",
  "maxMessageRetries",
  "deadLetterTopic",
  "retainOrdering",
  "retainKeyOrdering",
  "autoAck",
  "timeoutMs",
  "negativeAckRedeliveryDelayMs",
  "cleanupSubscription",
  "transformFunction",
  "transformFunctionClassName",
  "transformFunctionConfig",
]);
const SOURCE_FIELDS: ReadonlySet<string> = new Set([
  ...COMMON_FIELDS,
  "sourceType",
  "topicName",
  "producerConfig",
  "serdeClassName",
  "schemaType",
  "batchSourceConfig",
  "batchBuilder",
]);

/** A field outside the upstream config would otherwise be dropped without a word (often a misplaced setting). */
function checkUnknownFields(config: Record<string, unknown>, kind: "Sink" | "Source", issues: FieldIssue[]): void {
  const known = kind === "Sink" ? SINK_FIELDS : SOURCE_FIELDS;
  for (const field of Object.keys(config)) {
    if (!known.has(field)) {
      issues.push({ path: field, message: `is not a ${kind}Config field (connector settings go under configs)` });
    }
  }
}

function checkNotSupported(config: Record<string, unknown>, fields: readonly string[], issues: FieldIssue[]): void {
  for (const field of fields) {
    const value = config[field];
    const empty = isObject(value) && Object.keys(value).length === 0;
    if (present(value) && !empty) {
      issues.push({ path: field, message: NOT_SUPPORTED[field as keyof typeof NOT_SUPPORTED] });
    }
  }
}

function checkResources(config: Record<string, unknown>, issues: FieldIssue[]): void {
  const resources = config.resources;
  if (resources === undefined || resources === null) return;
  if (!isObject(resources)) {
    issues.push({ path: "resources", message: "must be an object with cpu, ram and disk" });
    return;
  }
  for (const [key, value] of Object.entries(resources)) {
    if (key !== "cpu" && key !== "ram" && key !== "disk") {
      issues.push({ path: `resources.${key}`, message: "is not a resources field (cpu, ram, disk)" });
    } else if (value !== null && (typeof value !== "number" || !Number.isFinite(value) || value < 0)) {
      issues.push({ path: `resources.${key}`, message: "must be a non-negative number" });
    }
  }
}

/** `runtimeFlags` and `customRuntimeOptions` alone; whether the chosen runtime can use them is the worker's check. */
function checkRuntimeFields(config: Record<string, unknown>, issues: FieldIssue[]): void {
  issues.push(...parseRuntimeFlags(config.runtimeFlags).issues);
  issues.push(...parseCustomRuntimeOptions(config.customRuntimeOptions).issues);
}

/** Field issues of the upstream sink fields beyond identity, inputs and guarantees. */
export function checkSinkFields(config: Record<string, unknown>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  checkUnknownFields(config, "Sink", issues);
  checkNotSupported(config, ["logLevel", "topicToSchemaProperties"], issues);
  issues.push(...checkTransformFields(config));
  checkResources(config, issues);
  checkRuntimeFields(config, issues);
  const serdes = config.topicToSerdeClassName;
  if (serdes !== undefined && serdes !== null) {
    if (!isObject(serdes)) issues.push({ path: "topicToSerdeClassName", message: "must be an object" });
    else {
      for (const [topic, serde] of Object.entries(serdes)) {
        if (present(serde)) issues.push({ path: `topicToSerdeClassName.${topic}`, message: SERDE });
      }
    }
  }
  const schemas = config.topicToSchemaType;
  if (schemas !== undefined && schemas !== null) {
    if (!isObject(schemas)) issues.push({ path: "topicToSchemaType", message: "must be an object" });
    else
      for (const [topic, type] of Object.entries(schemas)) checkSchemaType(type, `topicToSchemaType.${topic}`, issues);
  }
  const specs = config.inputSpecs;
  if (specs !== undefined && specs !== null) {
    if (!isObject(specs)) issues.push({ path: "inputSpecs", message: "must be an object" });
    else {
      const patterns = new Set<string>();
      for (const [topic, spec] of Object.entries(specs)) {
        const path = `inputSpecs.${topic}`;
        if (spec === null) continue;
        if (!isObject(spec)) {
          issues.push({ path, message: "must be a consumer config object" });
          continue;
        }
        checkSchemaType(spec.schemaType, `${path}.schemaType`, issues);
        if (present(spec.serdeClassName)) issues.push({ path: `${path}.serdeClassName`, message: SERDE });
        if (present(spec.cryptoConfig)) issues.push({ path: `${path}.cryptoConfig`, message: CRYPTO });
        if (isObject(spec.schemaProperties) && Object.keys(spec.schemaProperties).length > 0) {
          issues.push({ path: `${path}.schemaProperties`, message: NOT_SUPPORTED.topicToSchemaProperties });
        }
        if (present(spec.messagePayloadProcessorConfig)) {
          issues.push({
            path: `${path}.messagePayloadProcessorConfig`,
            message: "is not supported: Java payload processors cannot run here",
          });
        }
        if (spec.poolMessages === true) {
          issues.push({
            path: `${path}.poolMessages`,
            message: "is not supported: it selects the Java client's pooled buffers",
          });
        }
        if (spec.receiverQueueSize !== undefined && spec.receiverQueueSize !== null) {
          if (!positiveInteger(spec.receiverQueueSize)) {
            issues.push({ path: `${path}.receiverQueueSize`, message: "must be a positive integer" });
          }
        }
        if (spec.consumerProperties !== undefined && spec.consumerProperties !== null) {
          const props = spec.consumerProperties;
          if (!isObject(props) || Object.values(props).some((value) => typeof value !== "string")) {
            issues.push({ path: `${path}.consumerProperties`, message: "must map names to strings" });
          }
        }
        if (spec.isRegexPattern === true) {
          patterns.add(topic);
          const checked = checkTopicsPattern(topic);
          if ("problem" in checked) issues.push({ path, message: checked.problem });
        }
      }
      if (present(config.topicsPattern)) patterns.add(String(config.topicsPattern));
      if (patterns.size > 1) {
        issues.push({ path: "inputSpecs", message: "only one topics pattern is supported per sink" });
      }
    }
  }
  if (config.autoAck === false && config.processingGuarantees === "ATMOST_ONCE") {
    issues.push({
      path: "autoAck",
      message: "must be true when processingGuarantees is ATMOST_ONCE (use MANUAL to acknowledge from the connector)",
    });
  }
  if (config.autoAck !== undefined && config.autoAck !== null && typeof config.autoAck !== "boolean") {
    issues.push({ path: "autoAck", message: "must be true or false" });
  }
  return issues;
}

/** Field issues of the upstream source fields beyond identity and the destination topic. */
export function checkSourceFields(config: Record<string, unknown>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  checkUnknownFields(config, "Source", issues);
  checkNotSupported(config, ["logLevel", "batchSourceConfig", "serdeClassName"], issues);
  checkResources(config, issues);
  checkRuntimeFields(config, issues);
  checkSchemaType(config.schemaType, "schemaType", issues);
  if (present(config.batchBuilder) && !BATCH_BUILDERS.includes(String(config.batchBuilder).toUpperCase())) {
    issues.push({ path: "batchBuilder", message: "must be DEFAULT or KEY_BASED" });
  }
  const producer = config.producerConfig;
  if (producer === undefined || producer === null) return issues;
  if (!isObject(producer)) {
    issues.push({ path: "producerConfig", message: "must be an object" });
    return issues;
  }
  for (const field of ["maxPendingMessages", "maxPendingMessagesAcrossPartitions"]) {
    const value = producer[field];
    if (value !== undefined && value !== null && !positiveInteger(value)) {
      issues.push({ path: `producerConfig.${field}`, message: "must be a positive integer" });
    }
  }
  if (present(producer.cryptoConfig)) issues.push({ path: "producerConfig.cryptoConfig", message: CRYPTO });
  if (producer.useThreadLocalProducers === true) {
    issues.push({
      path: "producerConfig.useThreadLocalProducers",
      message: "is not supported: it selects Java thread-local producers",
    });
  }
  if (
    present(producer.compressionType) &&
    !(COMPRESSION_TYPES as readonly string[]).includes(String(producer.compressionType).toUpperCase())
  ) {
    issues.push({ path: "producerConfig.compressionType", message: `must be one of ${COMPRESSION_TYPES.join(", ")}` });
  }
  if (present(producer.batchBuilder) && !BATCH_BUILDERS.includes(String(producer.batchBuilder).toUpperCase())) {
    issues.push({ path: "producerConfig.batchBuilder", message: "must be DEFAULT or KEY_BASED" });
  }
  for (const field of ["batchingMaxPublishDelayMs", "batchingMaxMessages"]) {
    const value = producer[field];
    if (value !== undefined && value !== null && !positiveInteger(value)) {
      issues.push({ path: `producerConfig.${field}`, message: "must be a positive integer" });
    }
  }
  const batching = producer.batchingConfig;
  if (batching === undefined || batching === null) return issues;
  if (!isObject(batching)) {
    issues.push({ path: "producerConfig.batchingConfig", message: "must be an object" });
    return issues;
  }
  if (batching.enabled !== undefined && batching.enabled !== null && typeof batching.enabled !== "boolean") {
    issues.push({ path: "producerConfig.batchingConfig.enabled", message: "must be true or false" });
  }
  for (const field of ["batchingMaxPublishDelayMs", "batchingMaxMessages", "batchingMaxBytes"]) {
    const value = batching[field];
    if (value !== undefined && value !== null && !positiveInteger(value)) {
      issues.push({ path: `producerConfig.batchingConfig.${field}`, message: "must be a positive integer" });
    }
  }
  if (present(batching.batchBuilder) && !BATCH_BUILDERS.includes(String(batching.batchBuilder).toUpperCase())) {
    issues.push({ path: "producerConfig.batchingConfig.batchBuilder", message: "must be DEFAULT or KEY_BASED" });
  }
  if (present(batching.roundRobinRouterBatchingPartitionSwitchFrequency)) {
    issues.push({
      path: "producerConfig.batchingConfig.roundRobinRouterBatchingPartitionSwitchFrequency",
      message: "is not supported: messages without a key are routed round-robin per message",
    });
  }
  return issues;
}

/**
 * Warnings for fields that are accepted and shown but that this worker does not act on the way upstream may.
 * `isolated` says the instances run in the process runtime, where `resources.ram` is the heap limit.
 */
export function configWarnings(config: Record<string, unknown>, isolated = false): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const resources = isObject(config.resources) ? config.resources : {};
  for (const key of isolated ? ["cpu", "disk"] : ["cpu", "ram", "disk"]) {
    if (resources[key] !== undefined && resources[key] !== null) {
      warnings.push({
        field: `resources.${key}`,
        message: isolated
          ? "recorded and shown, but not enforced: the process runtime limits memory (resources.ram) only"
          : 'recorded and shown, but not enforced: instances share the worker\'s process (the process runtime, customRuntimeOptions {"runtime":"process"}, makes ram the heap limit)',
      });
    }
  }
  if (config.autoAck === false) {
    warnings.push({
      field: "autoAck",
      message:
        "deprecated upstream; records are acknowledged when the sink's write succeeds, as with upstream sinks. " +
        "Use processingGuarantees MANUAL to acknowledge from the connector",
    });
  }
  return warnings;
}
