import { createRequire } from "node:module";
import {
  DEFAULT_PROCESSING_GUARANTEE,
  type FieldIssue,
  isProcessingGuarantee,
  type ProcessingGuarantee,
} from "@pulsar-connect/core/host";
import type { RE2JS } from "re2js";
import { checkSinkFields, checkSourceFields } from "./config-fields.ts";

// RE2 (about 260 kB of code) loads with the first topicsPattern to check, not with every worker.
let re2Class: typeof RE2JS | undefined;
function re2(): typeof RE2JS {
  re2Class ??= (createRequire(import.meta.url)("re2js") as typeof import("re2js")).RE2JS;
  return re2Class;
}

/** Per-input consumer settings (upstream ConsumerConfig). */
export interface ConsumerConfig {
  schemaType?: string;
  serdeClassName?: string;
  isRegexPattern?: boolean;
  schemaProperties?: Record<string, string>;
  consumerProperties?: Record<string, string>;
  receiverQueueSize?: number;
  poolMessages?: boolean;
  cryptoConfig?: unknown;
}

/** Batching of a source's producer (upstream BatchingConfig). */
export interface BatchingConfig {
  enabled?: boolean;
  batchingMaxPublishDelayMs?: number;
  batchingMaxMessages?: number;
  batchingMaxBytes?: number;
  batchBuilder?: "DEFAULT" | "KEY_BASED";
  roundRobinRouterBatchingPartitionSwitchFrequency?: number;
}

/** Producer settings of a source's output (upstream ProducerConfig). */
export interface ProducerConfig {
  maxPendingMessages?: number;
  maxPendingMessagesAcrossPartitions?: number;
  useThreadLocalProducers?: boolean;
  batchBuilder?: "DEFAULT" | "KEY_BASED";
  compressionType?: "NONE" | "LZ4" | "ZLIB" | "ZSTD" | "SNAPPY";
  batchingConfig?: BatchingConfig;
  cryptoConfig?: unknown;
  /** Shorthand of `batchingConfig.batchingMaxPublishDelayMs` (kept for existing configs). */
  batchingMaxPublishDelayMs?: number;
  /** Shorthand of `batchingConfig.batchingMaxMessages` (kept for existing configs). */
  batchingMaxMessages?: number;
}

/** Resources requested per instance: stored and shown; instances share the worker's process, so not enforced. */
export interface Resources {
  cpu?: number;
  ram?: number;
  disk?: number;
}

/** Upstream-shaped sink config, as accepted by the admin API and `--sink-config-file`. */
export interface SinkConfig {
  tenant?: string;
  namespace?: string;
  name?: string;
  className?: string;
  archive?: string;
  sinkType?: string;
  sourceSubscriptionName?: string;
  sourceSubscriptionPosition?: "Latest" | "Earliest";
  inputs?: string[];
  topicsPattern?: string;
  topicToSerdeClassName?: Record<string, string>;
  topicToSchemaType?: Record<string, string>;
  topicToSchemaProperties?: Record<string, Record<string, string>>;
  inputSpecs?: Record<string, ConsumerConfig>;
  maxMessageRetries?: number;
  deadLetterTopic?: string;
  configs?: Record<string, unknown>;
  secrets?: Record<string, unknown>;
  parallelism?: number;
  processingGuarantees?: ProcessingGuarantee;
  retainOrdering?: boolean;
  retainKeyOrdering?: boolean;
  resources?: Resources;
  autoAck?: boolean;
  timeoutMs?: number;
  negativeAckRedeliveryDelayMs?: number;
  cleanupSubscription?: boolean;
  runtimeFlags?: string;
  customRuntimeOptions?: string;
  logTopic?: string;
  transformFunction?: string;
  transformFunctionClassName?: string;
  transformFunctionConfig?: string;
}

/** Upstream-shaped source config. */
export interface SourceConfig {
  tenant?: string;
  namespace?: string;
  name?: string;
  className?: string;
  archive?: string;
  sourceType?: string;
  topicName?: string;
  producerConfig?: ProducerConfig;
  serdeClassName?: string;
  schemaType?: string;
  configs?: Record<string, unknown>;
  secrets?: Record<string, unknown>;
  parallelism?: number;
  processingGuarantees?: ProcessingGuarantee;
  resources?: Resources;
  runtimeFlags?: string;
  customRuntimeOptions?: string;
  batchBuilder?: "DEFAULT" | "KEY_BASED";
  logTopic?: string;
  batchSourceConfig?: unknown;
}

/** A sink config with every default applied. */
export interface ResolvedSinkConfig extends SinkConfig {
  tenant: string;
  namespace: string;
  name: string;
  archive: string;
  inputs: string[];
  parallelism: number;
  processingGuarantees: ProcessingGuarantee;
  sourceSubscriptionName: string;
  sourceSubscriptionPosition: "Latest" | "Earliest";
  configs: Record<string, unknown>;
  secrets: Record<string, unknown>;
  autoAck: boolean;
  retainOrdering: boolean;
  retainKeyOrdering: boolean;
  cleanupSubscription: boolean;
}

/** A source config with every default applied. */
export interface ResolvedSourceConfig extends SourceConfig {
  tenant: string;
  namespace: string;
  name: string;
  archive: string;
  topicName: string;
  parallelism: number;
  processingGuarantees: ProcessingGuarantee;
  configs: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

/** Outcome of resolving a config: the resolved value, or field issues. */
export type Resolved<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

const NAME = /^[A-Za-z0-9_.=-][A-Za-z0-9_.=:-]*$/;
/** Pulsar's rule for tenant, namespace and topic names (NamedEntity): letters, digits, `_ - = : .`. */
const TOPIC_PART = /^[-=:.\w]+$/;
const MAX_TOPIC_LENGTH = 1024;
const MAX_PATTERN_LENGTH = 1024;

/** The parts of a valid topic name, or undefined; short names are qualified in `tenant/namespace`. */
export function parseTopic(
  topic: string,
  tenant = "public",
  namespace = "default",
): { domain: "persistent" | "non-persistent"; tenant: string; namespace: string; local: string } | undefined {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) return undefined;
  const scheme = /^(persistent|non-persistent):\/\/(.*)$/.exec(topic);
  const rest = scheme ? (scheme[2] as string) : topic;
  const parts = rest.split("/");
  if (scheme && parts.length !== 3) return undefined;
  if (parts.length !== 1 && parts.length !== 3) return undefined;
  if (!parts.every((part) => TOPIC_PART.test(part))) return undefined;
  const domain = scheme ? (scheme[1] as "persistent" | "non-persistent") : "persistent";
  return parts.length === 3
    ? { domain, tenant: parts[0] as string, namespace: parts[1] as string, local: parts[2] as string }
    : { domain, tenant, namespace, local: parts[0] as string };
}

/** True when `topic` is a valid Pulsar topic name (short or fully qualified). */
export function isValidTopicName(topic: string): boolean {
  return parseTopic(topic) !== undefined;
}

/**
 * Checks a `topicsPattern`: RE2 syntax (no backreferences or lookaround, matched in linear time) after a literal
 * `[persistent://]tenant/namespace/` prefix. Returns the problem, or the namespace the pattern lists topics of.
 */
export function checkTopicsPattern(pattern: unknown): { namespace: string; tenant: string } | { problem: string } {
  if (typeof pattern !== "string" || pattern === "") return { problem: "must be a non-empty string" };
  if (pattern.length > MAX_PATTERN_LENGTH) return { problem: `must be at most ${MAX_PATTERN_LENGTH} characters` };
  const prefix = /^(?:persistent:\/\/)?([-=:.\w]+)\/([-=:.\w]+)\//.exec(pattern);
  if (!prefix) return { problem: "must start with [persistent://]tenant/namespace/" };
  try {
    re2().compile(pattern);
  } catch (error) {
    return {
      problem: `is not a supported regular expression (RE2 syntax, no backreferences or lookaround): ${(error as Error).message}`,
    };
  }
  return { tenant: prefix[1] as string, namespace: `${prefix[1]}/${prefix[2]}` };
}

/** Fully qualified form of a topic name: `persistent://tenant/namespace/topic`. */
export function qualifyTopic(topic: string, tenant = "public", namespace = "default"): string {
  if (topic.includes("://")) return topic;
  const parts = topic.split("/");
  if (parts.length === 3) return `persistent://${topic}`;
  return `persistent://${tenant}/${namespace}/${topic}`;
}

/** Every topic, pattern and subscription prefix of a config that names a tenant, with the tenant it names. */
export function referencedTenants(config: ResolvedSinkConfig | ResolvedSourceConfig): Array<{
  field: string;
  tenant: string;
}> {
  const found: Array<{ field: string; tenant: string }> = [];
  const add = (field: string, topic: string | undefined) => {
    if (!topic) return;
    const parsed = parseTopic(topic, config.tenant, config.namespace);
    if (parsed) found.push({ field, tenant: parsed.tenant });
  };
  if ("inputs" in config && Array.isArray(config.inputs)) {
    for (const [index, topic] of config.inputs.entries()) add(`inputs.${index}`, topic);
    const sink = config as ResolvedSinkConfig;
    if (sink.topicsPattern) {
      const checked = checkTopicsPattern(sink.topicsPattern);
      if ("tenant" in checked) found.push({ field: "topicsPattern", tenant: checked.tenant });
    }
    add("deadLetterTopic", sink.deadLetterTopic);
  }
  if ("topicName" in config && typeof config.topicName === "string") add("topicName", config.topicName);
  add("logTopic", config.logTopic);
  return found;
}

/** The archive a config refers to: `archive`, or `builtin://<sinkType|sourceType>`. */
export function archiveOf(config: { archive?: string | undefined }, type: string | undefined): string | undefined {
  if (config.archive) return config.archive;
  return type ? `builtin://${type}` : undefined;
}

/** Name of the connector an archive refers to, for `builtin://<name>`. */
export function builtinName(archive: string): string | undefined {
  return archive.startsWith("builtin://") ? archive.slice("builtin://".length) : undefined;
}

function checkIdentity(config: { tenant?: string; namespace?: string; name?: string }, issues: FieldIssue[]): void {
  for (const field of ["tenant", "namespace", "name"] as const) {
    const value = config[field];
    if (value === undefined || value === "") {
      if (field === "name") issues.push({ path: field, message: "is required" });
    } else if (typeof value !== "string" || !NAME.test(value)) {
      issues.push({ path: field, message: "must be letters, digits, '-', '_', '.', '=' or ':'" });
    }
  }
}

function checkOptionalTopic(field: string, value: unknown, issues: FieldIssue[]): void {
  if (value === undefined || value === null || value === "") return;
  if (typeof value !== "string" || !isValidTopicName(value)) {
    issues.push({ path: field, message: `'${String(value)}' is not a valid topic name` });
  }
}

function checkCommon(
  config: SinkConfig | SourceConfig,
  issues: FieldIssue[],
  typeField: "sinkType" | "sourceType",
): void {
  checkIdentity(config, issues);
  const typeValue = (config as Record<string, unknown>)[typeField];
  // pulsar-admin sends both when a config file names the type; only a contradiction is an error.
  if (config.archive !== undefined && typeValue !== undefined && config.archive !== `builtin://${String(typeValue)}`) {
    issues.push({ path: "archive", message: `cannot specify both archive and ${typeField}` });
  }
  if (config.parallelism !== undefined && (!Number.isInteger(config.parallelism) || config.parallelism <= 0)) {
    issues.push({ path: "parallelism", message: "must be a positive integer" });
  }
  if (config.processingGuarantees !== undefined && !isProcessingGuarantee(config.processingGuarantees)) {
    issues.push({
      path: "processingGuarantees",
      message: "must be one of ATMOST_ONCE, ATLEAST_ONCE, EFFECTIVELY_ONCE, MANUAL",
    });
  }
  checkOptionalTopic("logTopic", config.logTopic, issues);
  if (config.configs !== undefined && (typeof config.configs !== "object" || Array.isArray(config.configs))) {
    issues.push({ path: "configs", message: "must be an object" });
  }
  if (config.secrets !== undefined && (typeof config.secrets !== "object" || Array.isArray(config.secrets))) {
    issues.push({ path: "secrets", message: "must be an object" });
  }
}

/** Applies upstream defaults to a sink config and checks it, returning field issues instead of throwing. */
export function resolveSinkConfig(config: SinkConfig): Resolved<ResolvedSinkConfig> {
  const issues: FieldIssue[] = [];
  if (!config || typeof config !== "object") return { ok: false, issues: [{ path: "", message: "must be an object" }] };
  checkCommon(config, issues, "sinkType");
  const archive = archiveOf(config, config.sinkType);
  if (!archive) issues.push({ path: "archive", message: "Sink archive not specified (give archive or sinkType)" });
  issues.push(...checkSinkFields(config as Record<string, unknown>));
  const rawSpecs: unknown = config.inputSpecs;
  const specsValid =
    rawSpecs === undefined || (rawSpecs !== null && typeof rawSpecs === "object" && !Array.isArray(rawSpecs));
  const specs = specsValid ? Object.entries(config.inputSpecs ?? {}) : [];
  const regexSpec = specs.find(([, spec]) => spec?.isRegexPattern === true)?.[0];
  const topicsPattern = config.topicsPattern || regexSpec;
  // As upstream, the topics named by the per-topic maps are inputs too.
  const inputs = [
    ...(Array.isArray(config.inputs) ? config.inputs : []),
    ...specs.filter(([, spec]) => spec?.isRegexPattern !== true).map(([topic]) => topic),
    ...Object.keys(config.topicToSerdeClassName ?? {}),
    ...Object.keys(config.topicToSchemaType ?? {}),
  ];
  if (config.inputs !== undefined && !Array.isArray(config.inputs)) {
    issues.push({ path: "inputs", message: "must be a list of topic names" });
  }
  if (!specsValid) issues.push({ path: "inputSpecs", message: "must map topic names to consumer settings" });
  if (inputs.length === 0 && !topicsPattern) {
    issues.push({
      path: "inputs",
      message: "Must specify at least one topic of input via topicName, inputs or topicsPattern",
    });
  }
  inputs.forEach((topic, index) => {
    if (typeof topic !== "string" || !isValidTopicName(topic)) {
      issues.push({ path: `inputs.${index}`, message: `'${String(topic)}' is not a valid topic name` });
    }
  });
  if (config.topicsPattern !== undefined) {
    const checked = checkTopicsPattern(config.topicsPattern);
    if ("problem" in checked) issues.push({ path: "topicsPattern", message: checked.problem });
  }
  checkOptionalTopic("deadLetterTopic", config.deadLetterTopic, issues);
  if (
    config.sourceSubscriptionName !== undefined &&
    (typeof config.sourceSubscriptionName !== "string" ||
      config.sourceSubscriptionName.length > 256 ||
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      /[\u0000-\u001f\u007f]/.test(config.sourceSubscriptionName))
  ) {
    issues.push({ path: "sourceSubscriptionName", message: "must be a string of at most 256 printable characters" });
  }
  if (config.timeoutMs !== undefined && (!Number.isFinite(config.timeoutMs) || config.timeoutMs < 0)) {
    issues.push({ path: "timeoutMs", message: "must be >= 0" });
  }
  if (
    config.maxMessageRetries !== undefined &&
    (!Number.isInteger(config.maxMessageRetries) || config.maxMessageRetries < 0)
  ) {
    issues.push({ path: "maxMessageRetries", message: "must be a non-negative integer" });
  }
  if (config.deadLetterTopic && !(typeof config.maxMessageRetries === "number" && config.maxMessageRetries > 0)) {
    // As upstream: a dead-letter topic is used only with max redeliveries; with none, failed messages are redelivered.
    issues.push({
      path: "deadLetterTopic",
      message: "needs maxMessageRetries (--max-redeliver-count) > 0; without it nothing is dead-lettered",
    });
  }
  if (config.retainOrdering && config.retainKeyOrdering) {
    issues.push({ path: "retainKeyOrdering", message: "only one of retainOrdering and retainKeyOrdering can be set" });
  }
  if (config.retainKeyOrdering && config.processingGuarantees === "EFFECTIVELY_ONCE") {
    issues.push({ path: "retainKeyOrdering", message: "retainKeyOrdering cannot be used with EFFECTIVELY_ONCE" });
  }
  if (
    config.sourceSubscriptionPosition !== undefined &&
    config.sourceSubscriptionPosition !== "Latest" &&
    config.sourceSubscriptionPosition !== "Earliest"
  ) {
    issues.push({ path: "sourceSubscriptionPosition", message: "must be Latest or Earliest" });
  }
  if (issues.length > 0) return { ok: false, issues };
  const tenant = config.tenant || "public";
  const namespace = config.namespace || "default";
  const name = config.name as string;
  const { sinkType: _ignored, ...rest } = config;
  if (topicsPattern) rest.topicsPattern = topicsPattern;
  return {
    ok: true,
    value: {
      ...rest,
      tenant,
      namespace,
      name,
      archive: archive as string,
      inputs: [...new Set(inputs.map((topic) => qualifyTopic(topic, tenant, namespace)))],
      parallelism: config.parallelism ?? 1,
      processingGuarantees: config.processingGuarantees ?? DEFAULT_PROCESSING_GUARANTEE,
      sourceSubscriptionName: config.sourceSubscriptionName || `${tenant}/${namespace}/${name}`,
      sourceSubscriptionPosition: config.sourceSubscriptionPosition ?? "Latest",
      configs: config.configs ?? {},
      secrets: config.secrets ?? {},
      autoAck: config.autoAck ?? true,
      retainOrdering: config.retainOrdering ?? false,
      retainKeyOrdering: config.retainKeyOrdering ?? false,
      cleanupSubscription: config.cleanupSubscription ?? true,
    },
  };
}

/** Applies upstream defaults to a source config and checks it. */
export function resolveSourceConfig(config: SourceConfig): Resolved<ResolvedSourceConfig> {
  const issues: FieldIssue[] = [];
  if (!config || typeof config !== "object") return { ok: false, issues: [{ path: "", message: "must be an object" }] };
  checkCommon(config, issues, "sourceType");
  issues.push(...checkSourceFields(config as Record<string, unknown>));
  const archive = archiveOf(config, config.sourceType);
  if (!archive) issues.push({ path: "archive", message: "Source archive not specified (give archive or sourceType)" });
  if (!config.topicName) issues.push({ path: "topicName", message: "is required (the destination topic)" });
  else if (typeof config.topicName !== "string" || !isValidTopicName(config.topicName)) {
    issues.push({ path: "topicName", message: `'${config.topicName}' is not a valid topic name` });
  }
  if (issues.length > 0) return { ok: false, issues };
  const tenant = config.tenant || "public";
  const namespace = config.namespace || "default";
  const { sourceType: _ignored, ...rest } = config;
  return {
    ok: true,
    value: {
      ...rest,
      tenant,
      namespace,
      name: config.name as string,
      archive: archive as string,
      topicName: qualifyTopic(config.topicName as string, tenant, namespace),
      parallelism: config.parallelism ?? 1,
      processingGuarantees: config.processingGuarantees ?? DEFAULT_PROCESSING_GUARANTEE,
      configs: config.configs ?? {},
      secrets: config.secrets ?? {},
    },
  };
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const left = [...(a ?? [])].sort();
  const right = [...(b ?? [])].sort();
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

/**
 * Merges an update into an existing sink config following upstream's rules, except that the processing guarantee
 * may change (the worker drains and restarts the instances). Returns field issues for changes that cannot apply.
 */
export function mergeSinkUpdate(existing: ResolvedSinkConfig, update: SinkConfig): Resolved<ResolvedSinkConfig> {
  const issues: FieldIssue[] = [];
  if (update.tenant && update.tenant !== existing.tenant) issues.push({ path: "tenant", message: "Tenants differ" });
  if (update.namespace && update.namespace !== existing.namespace) {
    issues.push({ path: "namespace", message: "Namespaces differ" });
  }
  if (update.name && update.name !== existing.name) issues.push({ path: "name", message: "Sink Names differ" });
  if (update.sourceSubscriptionName && update.sourceSubscriptionName !== existing.sourceSubscriptionName) {
    issues.push({ path: "sourceSubscriptionName", message: "Subscription Name cannot be altered" });
  }
  if (update.inputs !== undefined && !Array.isArray(update.inputs)) {
    issues.push({ path: "inputs", message: "must be a list of topic names" });
  }
  const named = [
    ...(Array.isArray(update.inputs) ? update.inputs : []),
    ...Object.keys(update.topicToSerdeClassName ?? {}),
    ...Object.keys(update.topicToSchemaType ?? {}),
    ...Object.entries(update.inputSpecs ?? {})
      .filter(([, spec]) => spec?.isRegexPattern !== true)
      .map(([topic]) => topic),
  ];
  if (named.length > 0) {
    const qualified = named.map((topic) =>
      typeof topic === "string" ? qualifyTopic(topic, existing.tenant, existing.namespace) : String(topic),
    );
    if (!qualified.every((topic) => existing.inputs.includes(topic))) {
      issues.push({ path: "inputs", message: "Input Topics cannot be altered" });
    }
  }
  if (update.topicsPattern !== undefined && update.topicsPattern !== existing.topicsPattern) {
    issues.push({ path: "topicsPattern", message: "Input Topics cannot be altered" });
  }
  if (update.retainKeyOrdering !== undefined && update.retainKeyOrdering !== existing.retainKeyOrdering) {
    issues.push({ path: "retainKeyOrdering", message: "Retain Key Ordering cannot be altered" });
  }
  if (update.autoAck !== undefined && update.autoAck !== null && update.autoAck !== existing.autoAck) {
    issues.push({ path: "autoAck", message: "AutoAck cannot be altered" });
  }
  if (issues.length > 0) return { ok: false, issues };
  const merged: SinkConfig = { ...existing };
  for (const [key, value] of Object.entries(update)) {
    if (value === undefined || value === null) continue;
    if (key === "resources") merged.resources = { ...existing.resources, ...(value as Resources) };
    else (merged as Record<string, unknown>)[key] = value;
  }
  if (update.sinkType !== undefined && update.archive === undefined) merged.archive = `builtin://${update.sinkType}`;
  if (!sameList(merged.inputs, existing.inputs)) merged.inputs = existing.inputs;
  return resolveSinkConfig(merged);
}

/** Merges an update into an existing source config (the processing guarantee may change). */
export function mergeSourceUpdate(
  existing: ResolvedSourceConfig,
  update: SourceConfig,
): Resolved<ResolvedSourceConfig> {
  const issues: FieldIssue[] = [];
  if (update.tenant && update.tenant !== existing.tenant) issues.push({ path: "tenant", message: "Tenants differ" });
  if (update.namespace && update.namespace !== existing.namespace) {
    issues.push({ path: "namespace", message: "Namespaces differ" });
  }
  if (update.name && update.name !== existing.name) issues.push({ path: "name", message: "Source Names differ" });
  if (issues.length > 0) return { ok: false, issues };
  const merged: SourceConfig = { ...existing };
  for (const [key, value] of Object.entries(update)) {
    if (value === undefined || value === null) continue;
    if (key === "resources") merged.resources = { ...existing.resources, ...(value as Resources) };
    else (merged as Record<string, unknown>)[key] = value;
  }
  if (update.sourceType !== undefined && update.archive === undefined)
    merged.archive = `builtin://${update.sourceType}`;
  return resolveSourceConfig(merged);
}
