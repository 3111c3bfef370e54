import { describe, expect, it } from "vitest";
import {
  mergeSinkUpdate,
  resolveSinkConfig,
  resolveSourceConfig,
  type SinkConfig,
  type SourceConfig,
} from "./config.ts";
import { configWarnings } from "./config-fields.ts";
import {
  inputSchema,
  keyValueRecordSchema,
  sinkConsumerSettings,
  sourceOutputSchema,
  sourcePendingLimit,
  sourceProducerSettings,
} from "./internal/client-options.ts";

const sink = (extra: Record<string, unknown>): SinkConfig =>
  ({ name: "s", sinkType: "jdbc-sqlite", inputs: ["in"], ...extra }) as SinkConfig;
const source = (extra: Record<string, unknown>): SourceConfig =>
  ({ name: "g", sourceType: "data-generator", topicName: "out", ...extra }) as SourceConfig;

function sinkIssues(extra: Record<string, unknown>): string[] {
  const resolved = resolveSinkConfig(sink(extra));
  return resolved.ok ? [] : resolved.issues.map((issue) => `${issue.path}: ${issue.message}`);
}
function sourceIssues(extra: Record<string, unknown>): string[] {
  const resolved = resolveSourceConfig(source(extra));
  return resolved.ok ? [] : resolved.issues.map((issue) => `${issue.path}: ${issue.message}`);
}
function resolvedSink(extra: Record<string, unknown>) {
  const resolved = resolveSinkConfig(sink(extra));
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  return resolved.value;
}
function resolvedSource(extra: Record<string, unknown>) {
  const resolved = resolveSourceConfig(source(extra));
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  return resolved.value;
}

describe("upstream fields that cannot work here are refused, naming the field", () => {
  it.each([
    [{ runtimeFlags: "-Xmx1g" }, "runtimeFlags: '-Xmx1g' is not a Node option"],
    [{ runtimeFlags: "--inspect=0.0.0.0:9229" }, "runtimeFlags: '--inspect=0.0.0.0:9229' is refused: opens a debugger"],
    [{ runtimeFlags: "--require ./x.js" }, "runtimeFlags: '--require' is refused: changes which code"],
    [{ runtimeFlags: "--stack-trace-limit 50" }, "runtimeFlags: '50' is not a flag: give values as --flag=value"],
    [{ runtimeFlags: "--max-old-space-size=64" }, "set the heap limit with resources.ram"],
    [{ customRuntimeOptions: "{}}" }, "customRuntimeOptions: is not valid JSON"],
    [{ customRuntimeOptions: '{"jobName":"x"}' }, "customRuntimeOptions.jobName: is not supported"],
    [{ customRuntimeOptions: '{"runtime":"thread"}' }, "customRuntimeOptions.runtime: 'thread' is not a runtime"],
    [{ logLevel: "DEBUG" }, "logLevel: is not supported"],
    [
      { transformFunction: "function://public/default/t@1" },
      "transformFunction: 'function://public/default/t@1' is not supported",
    ],
    [{ transformFunction: "/opt/functions/t.nar" }, "transformFunction: '/opt/functions/t.nar' is not supported"],
    [{ transformFunctionClassName: "a.B" }, "transformFunctionClassName: needs transformFunction"],
    [{ transformFunctionConfig: "{}" }, "transformFunctionConfig: needs transformFunction"],
    [
      { transformFunction: "builtin://t", transformFunctionConfig: "{steps" },
      "transformFunctionConfig: is not valid JSON",
    ],
    [{ transformFunction: "t", transformFunctionConfig: "[1]" }, "transformFunctionConfig: must be a JSON object"],
    [{ topicToSchemaProperties: { in: { a: "b" } } }, "topicToSchemaProperties: is not supported"],
    [{ topicToSerdeClassName: { in: "com.acme.Serde" } }, "topicToSerdeClassName.in: is not supported"],
    [{ topicToSchemaType: { in: "com.acme.MySchema" } }, "topicToSchemaType.in: 'com.acme.MySchema' is not supported"],
    [{ inputSpecs: { in: { serdeClassName: "com.acme.Serde" } } }, "inputSpecs.in.serdeClassName: is not supported"],
    [{ inputSpecs: { in: { cryptoConfig: { cryptoKeyReaderClassName: "X" } } } }, "inputSpecs.in.cryptoConfig"],
    [{ inputSpecs: { in: { poolMessages: true } } }, "inputSpecs.in.poolMessages: is not supported"],
    [{ inputSpecs: { in: { receiverQueueSize: 0 } } }, "inputSpecs.in.receiverQueueSize: must be a positive integer"],
    [{ topicsPattern: "a.*" }, "topicsPattern: must start with [persistent://]tenant/namespace/"],
    [{ autoAck: false, processingGuarantees: "ATMOST_ONCE" }, "autoAck: must be true when processingGuarantees"],
    [{ resources: { cpu: -1 } }, "resources.cpu: must be a non-negative number"],
  ])("sink %j", (extra, expected) => {
    expect(sinkIssues(extra).join("\n")).toContain(expected);
  });

  it.each([
    [{ batchSourceConfig: { discoveryTriggererClassName: "X" } }, "batchSourceConfig: is not supported"],
    [{ serdeClassName: "com.acme.Serde" }, "serdeClassName: is not supported"],
    [{ schemaType: "com.acme.MySchema" }, "schemaType: 'com.acme.MySchema' is not supported"],
    [{ batchBuilder: "FANCY" }, "batchBuilder: must be DEFAULT or KEY_BASED"],
    [{ producerConfig: { cryptoConfig: { producerCryptoFailureAction: "FAIL" } } }, "producerConfig.cryptoConfig"],
    [{ producerConfig: { useThreadLocalProducers: true } }, "producerConfig.useThreadLocalProducers"],
    [{ producerConfig: { compressionType: "BROTLI" } }, "producerConfig.compressionType: must be one of"],
    [{ producerConfig: { maxPendingMessagesAcrossPartitions: -5 } }, "maxPendingMessagesAcrossPartitions: must be"],
    [
      { producerConfig: { batchingConfig: { roundRobinRouterBatchingPartitionSwitchFrequency: 10 } } },
      "roundRobinRouterBatchingPartitionSwitchFrequency: is not supported",
    ],
    [{ runtimeFlags: "-Xmx1g" }, "runtimeFlags: '-Xmx1g' is not a Node option"],
    [{ customRuntimeOptions: '["process"]' }, "customRuntimeOptions: must be a JSON object"],
  ])("source %j", (extra, expected) => {
    expect(sourceIssues(extra).join("\n")).toContain(expected);
  });

  it("accepts the values Apache pulsar-admin sends by default (false, empty and null fields)", () => {
    expect(
      sinkIssues({
        inputSpecs: { in: { isRegexPattern: false, poolMessages: false, schemaProperties: {}, serdeClassName: "" } },
        topicToSerdeClassName: { in: "" },
        runtimeFlags: null,
        customRuntimeOptions: "",
      }),
    ).toEqual([]);
    expect(
      sinkIssues({ runtimeFlags: "--stack-trace-limit=50  --abort-on-uncaught-exception", customRuntimeOptions: "{}" }),
    ).toEqual([]);
    expect(sourceIssues({ customRuntimeOptions: '{"runtime":"process"}' })).toEqual([]);
    expect(
      sourceIssues({ producerConfig: { useThreadLocalProducers: false, batchingConfig: { enabled: true } } }),
    ).toEqual([]);
  });
});

describe("upstream fields that work", () => {
  it("counts the topics of --custom-serde-inputs, --custom-schema-inputs and --input-specs as inputs", () => {
    const config = resolvedSink({
      inputs: undefined,
      topicToSerdeClassName: { a: "" },
      topicToSchemaType: { b: "json" },
      inputSpecs: { c: { receiverQueueSize: 10 } },
    });
    expect(config.inputs).toEqual([
      "persistent://public/default/c",
      "persistent://public/default/a",
      "persistent://public/default/b",
    ]);
  });

  it("takes an input spec with isRegexPattern as the topics pattern", () => {
    const config = resolvedSink({
      inputs: undefined,
      inputSpecs: { "persistent://public/default/orders-.*": { isRegexPattern: true } },
    });
    expect(config.inputs).toEqual([]);
    expect(config.topicsPattern).toBe("persistent://public/default/orders-.*");
    const updated = mergeSinkUpdate(config, { parallelism: 2 });
    expect(updated.ok && updated.value.topicsPattern).toBe("persistent://public/default/orders-.*");
    expect(
      sinkIssues({
        inputs: undefined,
        topicsPattern: "public/default/a.*",
        inputSpecs: { "public/default/b.*": { isRegexPattern: true } },
      }),
    ).toEqual(["inputSpecs: only one topics pattern is supported per sink"]);
  });

  it("applies receiverQueueSize, consumerProperties and declared schema types to the consumer", () => {
    const config = resolvedSink({
      inputs: ["a"],
      inputSpecs: {
        b: { receiverQueueSize: 50, consumerProperties: { team: "x" }, schemaType: "string" },
        c: { receiverQueueSize: 20, consumerProperties: { app: "y" } },
      },
      topicToSchemaType: { a: "JSON" },
    });
    const settings = sinkConsumerSettings(config, (topic) => `persistent://public/default/${topic}`);
    expect(settings.receiverQueueSize).toBe(20);
    expect(settings.properties).toEqual({ team: "x", app: "y" });
    expect([...settings.schemaTypes]).toEqual([
      ["persistent://public/default/b", "STRING"],
      ["persistent://public/default/a", "JSON"],
    ]);
  });

  it("decodes by the declared schema when the topic has none, and refuses a declared type the topic contradicts", () => {
    expect(inputSchema("t", undefined, "STRING")).toEqual({ type: "STRING" });
    expect(inputSchema("t", { type: "AVRO", definition: "{}" }, undefined)).toEqual({ type: "AVRO", definition: "{}" });
    expect(() => inputSchema("t", { type: "AVRO", definition: "{}" }, "JSON")).toThrow(
      "input t declares schema type JSON, but the topic's schema is AVRO",
    );
  });

  it("maps --batch-builder, batchingConfig, compressionType and the pending limits to the producer", () => {
    expect(sourceProducerSettings(resolvedSource({}))).toEqual({
      batchingEnabled: true,
      batchingMaxPublishDelayMs: 5,
      batchingFlushWhenIdle: true,
      batchingMaxMessages: 1000,
      batchingType: "DEFAULT",
      compressionType: "LZ4",
    });
    const config = resolvedSource({
      batchBuilder: "KEY_BASED",
      producerConfig: {
        compressionType: "ZSTD",
        maxPendingMessages: 500,
        maxPendingMessagesAcrossPartitions: 300,
        batchingConfig: {
          enabled: false,
          batchingMaxPublishDelayMs: 10,
          batchingMaxMessages: 7,
          batchingMaxBytes: 4096,
        },
      },
    });
    expect(sourceProducerSettings(config)).toEqual({
      batchingEnabled: false,
      batchingMaxPublishDelayMs: 10,
      batchingFlushWhenIdle: false,
      batchingMaxMessages: 7,
      batchingMaxBytes: 4096,
      batchingType: "KEY_BASED",
      compressionType: "ZSTD",
    });
    expect(sourcePendingLimit(config)).toBe(300);
    const nested = resolvedSource({
      producerConfig: { batchBuilder: "DEFAULT", batchingConfig: { batchBuilder: "KEY_BASED" } },
    });
    expect(sourceProducerSettings(nested).batchingType).toBe("KEY_BASED");
  });

  it("registers the declared output schema of a source, taking JSON/AVRO definitions from the records", () => {
    expect(sourceOutputSchema(resolvedSource({}), { type: "JSON", definition: "{}" })).toBeUndefined();
    expect(sourceOutputSchema(resolvedSource({ schemaType: "string" }), undefined)).toEqual({ type: "STRING" });
    expect(sourceOutputSchema(resolvedSource({ schemaType: "JSON" }), { type: "JSON", definition: "{}" })).toEqual({
      type: "JSON",
      schema: "{}",
    });
    expect(() =>
      sourceOutputSchema(resolvedSource({ schemaType: "AVRO" }), { type: "JSON", definition: "{}" }),
    ).toThrow("schemaType AVRO: the connector's records carry a JSON schema, so they cannot be written as AVRO");
  });

  it("registers a KeyValue record schema without schemaType, and reads the topic schema back into it", () => {
    const definition = '{"type":"record","name":"Key","fields":[{"name":"id","type":"int"}]}';
    const recordSchema = {
      type: "KEY_VALUE",
      key: { type: "JSON", definition },
      value: { type: "STRING" },
      encoding: "SEPARATED",
    } as const;
    const info = sourceOutputSchema(resolvedSource({}), recordSchema);
    expect(info).toMatchObject({
      type: "KEY_VALUE",
      properties: { "key.schema.type": "JSON", "value.schema.type": "STRING", "kv.encoding.type": "SEPARATED" },
    });
    expect(keyValueRecordSchema(info?.schema as Uint8Array, info?.properties ?? {})).toEqual(recordSchema);
    expect(() => sourceOutputSchema(resolvedSource({ schemaType: "JSON" }), recordSchema)).toThrow(
      "schemaType JSON: the connector's records carry a KEY_VALUE schema",
    );
  });
});

describe("accepted with a warning", () => {
  it("warns that resources are recorded but not enforced, and that autoAck false is deprecated", () => {
    const config = resolvedSink({ resources: { cpu: 2, ram: 1024 }, autoAck: false });
    expect(config.resources).toEqual({ cpu: 2, ram: 1024 });
    expect(configWarnings(config as unknown as Record<string, unknown>).map((warning) => warning.field)).toEqual([
      "resources.cpu",
      "resources.ram",
      "autoAck",
    ]);
    expect(configWarnings(resolvedSink({}) as unknown as Record<string, unknown>)).toEqual([]);
  });

  it("refuses new input topics on update through the per-topic maps, as upstream does", () => {
    const config = resolvedSink({ topicToSchemaType: { b: "JSON" } });
    expect(mergeSinkUpdate(config, { topicToSchemaType: { b: "STRING" } }).ok).toBe(true);
    const added = mergeSinkUpdate(config, { topicToSchemaType: { c: "JSON" } });
    expect(added.ok ? [] : added.issues).toEqual([{ path: "inputs", message: "Input Topics cannot be altered" }]);
    const spec = mergeSinkUpdate(config, { inputSpecs: { d: { receiverQueueSize: 5 } } });
    expect(spec.ok).toBe(false);
  });

  it("refuses to change autoAck on update, as upstream does", () => {
    const merged = mergeSinkUpdate(resolvedSink({}), { autoAck: false });
    expect(merged.ok).toBe(false);
    expect(merged.ok ? [] : merged.issues).toEqual([{ path: "autoAck", message: "AutoAck cannot be altered" }]);
  });
});

describe("fields that are not part of SinkConfig or SourceConfig", () => {
  it("are refused by name, with a pointer to configs, rather than ignored", () => {
    // A connector setting at the top level (a config file written as the connector's configs) must not vanish.
    expect(sourceIssues({ ratePerSecond: 10, maxRecords: 20 })).toEqual([
      "ratePerSecond: is not a SourceConfig field (connector settings go under configs)",
      "maxRecords: is not a SourceConfig field (connector settings go under configs)",
    ]);
    expect(sinkIssues({ tableName: "t" })).toEqual([
      "tableName: is not a SinkConfig field (connector settings go under configs)",
    ]);
    const existing = resolvedSink({});
    const update = mergeSinkUpdate(existing, { jdbcUrl: "x" } as SinkConfig);
    expect(update.ok ? [] : update.issues.map((issue) => issue.path)).toEqual(["jdbcUrl"]);
  });

  it("accepts every field of upstream's SinkConfig and SourceConfig", () => {
    expect(
      sinkIssues({
        className: undefined,
        sourceSubscriptionName: "sub",
        sourceSubscriptionPosition: "Earliest",
        topicToSerdeClassName: {},
        topicToSchemaType: {},
        inputSpecs: {},
        maxMessageRetries: 2,
        deadLetterTopic: "dlq",
        configs: {},
        secrets: {},
        parallelism: 1,
        processingGuarantees: "ATLEAST_ONCE",
        retainOrdering: false,
        retainKeyOrdering: false,
        resources: {},
        autoAck: true,
        timeoutMs: 0,
        negativeAckRedeliveryDelayMs: 100,
        cleanupSubscription: true,
        logTopic: "log",
      }),
    ).toEqual([]);
    expect(
      sourceIssues({
        producerConfig: {},
        schemaType: "JSON",
        configs: {},
        secrets: {},
        parallelism: 1,
        processingGuarantees: "ATLEAST_ONCE",
        resources: {},
        batchBuilder: "DEFAULT",
        logTopic: "log",
      }),
    ).toEqual([]);
  });
});

describe("archive next to sinkType or sourceType", () => {
  it("is accepted when both name the same built-in (pulsar-admin sends both for a config file's type)", () => {
    expect(sinkIssues({ archive: "builtin://jdbc-sqlite" })).toEqual([]);
    expect(sourceIssues({ archive: "builtin://data-generator" })).toEqual([]);
    expect(sinkIssues({ archive: "builtin://jdbc-postgres" })).toEqual([
      "archive: cannot specify both archive and sinkType",
    ]);
    const updated = mergeSinkUpdate(resolvedSink({}), { sinkType: "jdbc-sqlite" } as SinkConfig);
    expect(updated.ok).toBe(true);
  });
});
