import { type Command, Option } from "commander";
import { booleanValue } from "./config-build.ts";

const GUARANTEES = "ATLEAST_ONCE (default), ATMOST_ONCE, EFFECTIVELY_ONCE or MANUAL";

/** --tenant, --namespace, --name. */
export function identityFlags(command: Command, kind: "sink" | "source", defaults: boolean): Command {
  return command
    .option("--tenant <tenant>", `The ${kind}'s tenant${defaults ? " (default: public)" : ""}`)
    .option("--namespace <namespace>", `The ${kind}'s namespace${defaults ? " (default: default)" : ""}`)
    .option("--name <name>", `The ${kind}'s name`);
}

/** --parallelism, --cpu, --ram, --disk: the resources of each instance. */
function instanceResourceFlags(command: Command): Command {
  return command
    .option("--parallelism <n>", "Number of instances (default: 1)")
    .option(
      "--cpu <cores>",
      "CPU cores per instance (stored and shown; the answer warns that the worker does not limit it)",
    )
    .option(
      "--ram <bytes>",
      "RAM per instance in bytes: the heap limit of each instance process in the process runtime (stored, shown and warned about in-process)",
    )
    .option(
      "--disk <bytes>",
      "Disk per instance in bytes (stored and shown; the answer warns that the worker does not limit it)",
    );
}

/** --secrets, --custom-runtime-options, --runtime-flags, --log-topic: how each instance runs. */
function instanceRuntimeFlags(command: Command): Command {
  return command
    .option("--secrets <json>", 'JSON map of secret name to value or {"env": "VAR"}')
    .option(
      "--custom-runtime-options <json>",
      'Where instances run: {"runtime":"process"} (a Node process each) or {"runtime":"in-process"}; other keys refused',
    )
    .option(
      "--runtime-flags <flags>",
      "Node flags of each instance process (process runtime only), e.g. --stack-trace-limit=50; debugger and loader flags refused",
    )
    .option("--log-topic <topic>", "Topic that receives the instance's log lines (as well as the worker's log)");
}

/** Flags of `sinks create|update|localrun`, as pulsar-admin names them. */
export function sinkConfigFlags(command: Command): Command {
  const connectorFlags = command
    .option("-t, --sink-type <type>", "Built-in sink to run (see available-sinks); same as --archive builtin://<type>")
    .option(
      "-a, --archive <archive>",
      "builtin://<name>, an npm package tarball or folder (uploaded), or an http(s):// or file:// URL the worker fetches",
    )
    .option("--classname <className>", "Connector class: the connector's package name, as available-sinks lists it")
    .option("-i, --inputs <topics>", "Comma-separated input topics")
    .option(
      "--topics-pattern <regex>",
      "Regular expression of input topics, starting with tenant/namespace/ (with or without --inputs)",
    )
    .option("--subs-name <name>", "Subscription name (default: tenant/namespace/name)")
    .option("--subs-position <position>", "Initial subscription position: Latest (default) or Earliest")
    .option(
      "--custom-serde-inputs <json>",
      'JSON map of input topic to serde class; the topics are inputs, the class must be ""',
    )
    .option(
      "--custom-schema-inputs <json>",
      "JSON map of input topic to schema type (STRING, BYTES, JSON, AVRO); the topics are inputs",
    )
    .option(
      "--input-specs <json>",
      "JSON map of input topic to consumer config (schemaType, receiverQueueSize, consumerProperties, isRegexPattern)",
    )
    .option("--max-redeliver-count <n>", "Redeliveries before a message goes to the dead-letter topic")
    .option("--dead-letter-topic <topic>", "Dead-letter topic")
    .option("--processing-guarantees <guarantee>", GUARANTEES)
    .option("--retain-ordering", "Read in order (Failover subscription)")
    .option("--retain-key-ordering", "Keep per-key order (Key_Shared subscription)")
    .option(
      "--transform-function <function>",
      "Function applied to each record before the sink: builtin://<name> of an installed function package",
    )
    .option(
      "--transform-function-classname <name>",
      "The transform function's name or package name (optional; refused when it names another function)",
    )
    .option("--transform-function-config <json>", "The transform function's config as a JSON object");
  const configFlags = instanceResourceFlags(connectorFlags)
    .option("--sink-config <json>", "Connector configs as a JSON object")
    .option("--sink-config-file <file>", "YAML file with the whole sink config (flags override its fields)")
    .addOption(
      new Option(
        "--auto-ack <bool>",
        "Deprecated upstream; false needs a guarantee other than ATMOST_ONCE (prefer MANUAL)",
      ).argParser(booleanValue),
    )
    .option("--timeout-ms <ms>", "Ack timeout in milliseconds")
    .option("--negative-ack-redelivery-delay-ms <ms>", "Delay before a negatively acknowledged message comes back")
    .addOption(
      new Option(
        "--cleanup-subscription [bool]",
        "Delete the subscription when the sink is deleted (default: true)",
      ).argParser(booleanValue),
    );
  return instanceRuntimeFlags(configFlags)
    .addOption(new Option("--className <className>").hideHelp())
    .addOption(new Option("--sinkType <type>").hideHelp())
    .addOption(new Option("--topicsPattern <regex>").hideHelp())
    .addOption(new Option("--subsName <name>").hideHelp())
    .addOption(new Option("--customSerdeInputs <json>").hideHelp())
    .addOption(new Option("--processingGuarantees <guarantee>").hideHelp())
    .addOption(new Option("--retainOrdering").hideHelp())
    .addOption(new Option("--sinkConfig <json>").hideHelp())
    .addOption(new Option("--sinkConfigFile <file>").hideHelp())
    .addOption(new Option("--autoAck <bool>").hideHelp().argParser(booleanValue))
    .addOption(new Option("--timeoutMs <ms>").hideHelp())
    .addOption(new Option("--maxRedeliverCount <n>").hideHelp())
    .addOption(new Option("--deadLetterTopic <topic>").hideHelp())
    .addOption(new Option("--negativeAckRedeliveryDelayMs <ms>").hideHelp())
    .addOption(new Option("--cleanupSubscription [bool]").hideHelp().argParser(booleanValue))
    .addOption(new Option("--customRuntimeOptions <options>").hideHelp());
}

/** Flags of `sources create|update|localrun`. */
export function sourceConfigFlags(command: Command): Command {
  const connectorFlags = command
    .option(
      "-t, --source-type <type>",
      "Built-in source to run (see available-sources); same as --archive builtin://<type>",
    )
    .option(
      "-a, --archive <archive>",
      "builtin://<name>, an npm package tarball or folder (uploaded), or an http(s):// or file:// URL the worker fetches",
    )
    .option("--classname <className>", "Connector class: the connector's package name, as available-sources lists it")
    .option("-o, --destination-topic-name <topic>", "Topic the source writes to")
    .option(
      "--producer-config <json>",
      "Producer config: maxPendingMessages, maxPendingMessagesAcrossPartitions, compressionType, batchBuilder, batchingConfig",
    )
    .option("--batch-builder <builder>", "Producer batching: DEFAULT, or KEY_BASED (one key per batch)")
    .option("--deserialization-classname <className>", "Not supported (Java SerDe classes cannot run here); refused")
    .option("--schema-type <type>", "Schema registered on the output topic (-st): STRING, BYTES, JSON or AVRO")
    .option("--processing-guarantees <guarantee>", GUARANTEES);
  const configFlags = instanceResourceFlags(connectorFlags)
    .option("--source-config <json>", "Connector configs as a JSON object")
    .option("--source-config-file <file>", "YAML file with the whole source config (flags override its fields)")
    .option("--batch-source-config <json>", "Not supported (there is no batch source runtime); refused");
  return instanceRuntimeFlags(configFlags)
    .addOption(new Option("--className <className>").hideHelp())
    .addOption(new Option("--sourceType <type>").hideHelp())
    .addOption(new Option("--destinationTopicName <topic>").hideHelp())
    .addOption(new Option("--producerConfig <json>").hideHelp())
    .addOption(new Option("--batchBuilder <builder>").hideHelp())
    .addOption(new Option("--deserializationClassName <className>").hideHelp())
    .addOption(new Option("--schemaType <type>").hideHelp())
    .addOption(new Option("--processingGuarantees <guarantee>").hideHelp())
    .addOption(new Option("--sourceConfig <json>").hideHelp())
    .addOption(new Option("--sourceConfigFile <file>").hideHelp())
    .addOption(new Option("--batchSourceConfig <json>").hideHelp())
    .addOption(new Option("--customRuntimeOptions <options>").hideHelp());
}
