import { existsSync, readFileSync } from "node:fs";
import { isProcessingGuarantee } from "@pulsar-connect/core/host";
import type { SinkConfig, SourceConfig } from "@pulsar-connect/runtime";
import { parse as parseYaml } from "yaml";
import { CliError } from "../errors.ts";
import { checkArchiveValue } from "./archive.ts";

type Options = Record<string, unknown>;
type Kind = "sink" | "source";

function jsonFlag(value: unknown, flag: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch {
    throw new CliError("USAGE", `${flag} is not valid JSON`, {
      hint: `Quote the whole object, e.g. ${flag} '{"key": "value"}'.`,
    });
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CliError("USAGE", `${flag} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function yamlFile(path: unknown, flag: string): Record<string, unknown> {
  const file = String(path);
  if (!existsSync(file)) throw new CliError("USAGE", `${flag}: file ${file} does not exist`);
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliError("USAGE", `${flag}: ${file} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed))
    throw new CliError("USAGE", `${flag}: ${file} must hold a mapping`);
  return parsed as Record<string, unknown>;
}

function integer(value: unknown, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const parsed = Number(text);
  if (!/^-?\d+$/.test(text) || parsed < min) {
    throw new CliError("USAGE", `${flag} must be an integer >= ${min} (got '${text}')`);
  }
  return parsed;
}

function decimal(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new CliError("USAGE", `${flag} must be a non-negative number`);
  return parsed;
}

/** Parses `true`/`false` flag values (pulsar-admin's arity-1 booleans). */
export function booleanValue(value: string): boolean {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new CliError("USAGE", `expected true or false, got '${value}'`);
}

function set(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

function list(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  return String(value)
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function checkArchive(kind: Kind, config: Record<string, unknown>, type: unknown): void {
  const typeFlag = kind === "sink" ? "sink-type" : "source-type";
  if (config.archive !== undefined && type !== undefined) {
    throw new CliError("USAGE", `Cannot specify both archive and ${typeFlag}`);
  }
  if (type !== undefined) config.archive = `builtin://${String(type)}`;
  if (typeof config.archive === "string") checkArchiveValue(config.archive);
}

/**
 * Builds a SinkConfig/SourceConfig from pulsar-admin style flags. The YAML file (`--sink-config-file`) gives the
 * whole config; flags override its fields. `withDefaults` applies the CLI defaults of create (tenant, namespace).
 */
export function buildConfig(kind: Kind, options: Options, withDefaults: boolean): SinkConfig | SourceConfig {
  const fileFlag = kind === "sink" ? "--sink-config-file" : "--source-config-file";
  const fileValue = kind === "sink" ? options.sinkConfigFile : options.sourceConfigFile;
  const config: Record<string, unknown> = fileValue !== undefined ? yamlFile(fileValue, fileFlag) : {};
  const typeKey = kind === "sink" ? "sinkType" : "sourceType";
  const fileType = config[typeKey];
  delete config[typeKey];
  set(config, "tenant", options.tenant);
  set(config, "namespace", options.namespace);
  set(config, "name", options.name);
  set(config, "className", options.classname ?? options.className);
  set(config, "archive", options.archive);
  const type = (kind === "sink" ? options.sinkType : options.sourceType) ?? (config.archive ? undefined : fileType);
  checkArchive(kind, config, type);
  const guarantee = options.processingGuarantees;
  if (guarantee !== undefined) {
    const upper = String(guarantee).toUpperCase();
    if (!isProcessingGuarantee(upper)) {
      throw new CliError(
        "USAGE",
        `--processing-guarantees must be one of ATLEAST_ONCE, ATMOST_ONCE, EFFECTIVELY_ONCE, MANUAL (got '${String(guarantee)}')`,
      );
    }
    config.processingGuarantees = upper;
  }
  set(config, "parallelism", integer(options.parallelism, "--parallelism", 1));
  const resources: Record<string, unknown> = { ...((config.resources as Record<string, unknown>) ?? {}) };
  set(resources, "cpu", decimal(options.cpu, "--cpu"));
  set(resources, "ram", integer(options.ram, "--ram", 0));
  set(resources, "disk", integer(options.disk, "--disk", 0));
  if (Object.keys(resources).length > 0) config.resources = resources;
  const configsFlag = kind === "sink" ? "--sink-config" : "--source-config";
  set(config, "configs", jsonFlag(kind === "sink" ? options.sinkConfig : options.sourceConfig, configsFlag));
  set(config, "secrets", jsonFlag(options.secrets, "--secrets"));
  set(config, "customRuntimeOptions", options.customRuntimeOptions);
  set(config, "runtimeFlags", options.runtimeFlags);
  set(config, "logTopic", options.logTopic);
  if (kind === "sink") {
    set(config, "inputs", list(options.inputs));
    set(config, "topicsPattern", options.topicsPattern);
    set(config, "sourceSubscriptionName", options.subsName);
    if (options.subsPosition !== undefined) {
      const position = String(options.subsPosition);
      const normalized =
        position.toLowerCase() === "earliest" ? "Earliest" : position.toLowerCase() === "latest" ? "Latest" : undefined;
      if (!normalized) throw new CliError("USAGE", `--subs-position must be Latest or Earliest (got '${position}')`);
      config.sourceSubscriptionPosition = normalized;
    }
    set(config, "topicToSerdeClassName", jsonFlag(options.customSerdeInputs, "--custom-serde-inputs"));
    set(config, "topicToSchemaType", jsonFlag(options.customSchemaInputs, "--custom-schema-inputs"));
    set(config, "inputSpecs", jsonFlag(options.inputSpecs, "--input-specs"));
    set(config, "maxMessageRetries", integer(options.maxRedeliverCount, "--max-redeliver-count", 0));
    set(config, "deadLetterTopic", options.deadLetterTopic);
    if (options.retainOrdering === true) config.retainOrdering = true;
    if (options.retainKeyOrdering === true) config.retainKeyOrdering = true;
    set(config, "autoAck", options.autoAck);
    set(config, "timeoutMs", integer(options.timeoutMs, "--timeout-ms", 0));
    set(
      config,
      "negativeAckRedeliveryDelayMs",
      integer(options.negativeAckRedeliveryDelayMs, "--negative-ack-redelivery-delay-ms", 0),
    );
    set(config, "cleanupSubscription", options.cleanupSubscription);
    set(config, "transformFunction", options.transformFunction);
    set(config, "transformFunctionClassName", options.transformFunctionClassname);
    set(config, "transformFunctionConfig", options.transformFunctionConfig);
  } else {
    set(config, "topicName", options.destinationTopicName);
    set(config, "producerConfig", jsonFlag(options.producerConfig, "--producer-config"));
    if (options.batchBuilder !== undefined) {
      const builder = String(options.batchBuilder).toUpperCase();
      if (builder !== "DEFAULT" && builder !== "KEY_BASED") {
        throw new CliError(
          "USAGE",
          `--batch-builder must be DEFAULT or KEY_BASED (got '${String(options.batchBuilder)}')`,
        );
      }
      config.batchBuilder = builder;
    }
    set(config, "serdeClassName", options.deserializationClassname ?? options.deserializationClassName);
    set(config, "schemaType", options.schemaType);
    set(config, "batchSourceConfig", jsonFlag(options.batchSourceConfig, "--batch-source-config"));
  }
  if (withDefaults) {
    config.tenant ??= "public";
    config.namespace ??= "default";
  }
  return config as SinkConfig | SourceConfig;
}
