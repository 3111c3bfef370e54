// What Apache Pulsar's pulsar-admin (4.0) prints for the read verbs of `sinks` and `sources`, for scripts written
// against it: `get` and `list` through Gson, `status` through Jackson, `available-*` as name / description / rule.
import { gsonPretty, type JavaType, jacksonPretty } from "./java-json.ts";

type Kind = "sink" | "source";

const RESOURCES: JavaType = {
  fields: [
    ["cpu", "double", { initial: 1 }],
    ["ram", "long", { initial: 1073741824 }],
    ["disk", "long", { initial: 10737418240 }],
  ],
};

const CRYPTO_CONFIG: JavaType = {
  fields: [
    ["cryptoKeyReaderClassName", "string"],
    ["cryptoKeyReaderConfig", { map: "any" }],
    ["encryptionKeys", { list: "string" }],
    ["producerCryptoFailureAction", "enum"],
    ["consumerCryptoFailureAction", "enum"],
  ],
};

const CONSUMER_CONFIG: JavaType = {
  fields: [
    ["schemaType", "string"],
    ["serdeClassName", "string"],
    // Jackson binds the field through its Lombok accessors, under the name `regexPattern`.
    ["isRegexPattern", "boolean!", { jsonName: "regexPattern" }],
    ["schemaProperties", { map: "string" }, { initial: {} }],
    ["consumerProperties", { map: "string" }, { initial: {} }],
    ["receiverQueueSize", "int"],
    ["cryptoConfig", CRYPTO_CONFIG],
    ["poolMessages", "boolean!"],
  ],
};

const PRODUCER_CONFIG: JavaType = {
  fields: [
    ["maxPendingMessages", "int"],
    ["maxPendingMessagesAcrossPartitions", "int"],
    ["useThreadLocalProducers", "boolean"],
    ["cryptoConfig", CRYPTO_CONFIG],
    ["batchBuilder", "string"],
    ["compressionType", "enum"],
  ],
};

/** org.apache.pulsar.common.io.SinkConfig, fields in declaration order. */
const SINK_CONFIG: JavaType = {
  fields: [
    ["tenant", "string"],
    ["namespace", "string"],
    ["name", "string"],
    ["className", "string"],
    ["sourceSubscriptionName", "string"],
    ["sourceSubscriptionPosition", "enum", { initial: "Latest" }],
    ["inputs", { list: "string" }],
    ["topicToSerdeClassName", { map: "string" }],
    ["topicsPattern", "string"],
    ["topicToSchemaType", { map: "string" }],
    ["topicToSchemaProperties", { map: "string" }],
    ["inputSpecs", { map: CONSUMER_CONFIG }],
    ["maxMessageRetries", "int"],
    ["deadLetterTopic", "string"],
    ["configs", { map: "any" }],
    ["secrets", { map: "any" }],
    ["parallelism", "int"],
    ["processingGuarantees", "enum"],
    ["retainOrdering", "boolean"],
    ["retainKeyOrdering", "boolean"],
    ["resources", RESOURCES],
    ["autoAck", "boolean"],
    ["timeoutMs", "long"],
    ["negativeAckRedeliveryDelayMs", "long"],
    ["sinkType", "string"],
    ["archive", "string"],
    ["cleanupSubscription", "boolean"],
    ["runtimeFlags", "string"],
    ["customRuntimeOptions", "string"],
    ["transformFunction", "string"],
    ["transformFunctionClassName", "string"],
    ["transformFunctionConfig", "string"],
    ["logTopic", "string"],
  ],
};

/** org.apache.pulsar.common.io.SourceConfig, fields in declaration order. */
const SOURCE_CONFIG: JavaType = {
  fields: [
    ["tenant", "string"],
    ["namespace", "string"],
    ["name", "string"],
    ["className", "string"],
    ["topicName", "string"],
    ["producerConfig", PRODUCER_CONFIG],
    ["serdeClassName", "string"],
    ["schemaType", "string"],
    ["configs", { map: "any" }],
    ["secrets", { map: "any" }],
    ["parallelism", "int"],
    ["processingGuarantees", "enum"],
    ["resources", RESOURCES],
    ["sourceType", "string"],
    ["archive", "string"],
    ["runtimeFlags", "string"],
    ["customRuntimeOptions", "string"],
    [
      "batchSourceConfig",
      {
        fields: [
          ["discoveryTriggererClassName", "string"],
          ["discoveryTriggererConfig", { map: "any" }],
        ],
      },
    ],
    ["batchBuilder", "string"],
    ["logTopic", "string"],
  ],
};

const EXCEPTIONS: JavaType = {
  list: {
    fields: [
      ["exceptionString", "string"],
      ["timestampMs", "long!"],
    ],
  },
};

function instanceStatusData(kind: Kind): JavaType {
  const [received, exceptions, latest, written] =
    kind === "sink"
      ? ["numReadFromPulsar", "numSinkExceptions", "latestSinkExceptions", "numWrittenToSink"]
      : ["numReceivedFromSource", "numSourceExceptions", "latestSourceExceptions", "numWritten"];
  return {
    fields: [
      ["running", "boolean!"],
      ["error", "string"],
      ["numRestarts", "long!"],
      [received, "long!"],
      ["numSystemExceptions", "long!"],
      ["latestSystemExceptions", EXCEPTIONS],
      [exceptions, "long!"],
      [latest, EXCEPTIONS],
      [written, "long!"],
      ["lastReceivedTime", "long!"],
      ["workerId", "string"],
    ],
  };
}

function status(kind: Kind): JavaType {
  return {
    fields: [
      ["numInstances", "int!"],
      ["numRunning", "int!"],
      [
        "instances",
        {
          list: {
            fields: [
              ["instanceId", "int!"],
              ["status", instanceStatusData(kind)],
            ],
          },
        },
      ],
    ],
  };
}

/** `sinks|sources get`: the SinkConfig/SourceConfig through Gson. */
export function configOutput(kind: Kind, config: unknown): string {
  return `${gsonPretty(config, kind === "sink" ? SINK_CONFIG : SOURCE_CONFIG)}\n`;
}

/** `sinks|sources list`: the names through Gson. */
export function listOutput(names: unknown): string {
  return `${gsonPretty(names, { list: "string" })}\n`;
}

/** `sinks|sources status`, all instances (or one, with `instance`), through Jackson. */
export function statusOutput(kind: Kind, answer: unknown, instance: boolean): string {
  return `${jacksonPretty(answer, instance ? instanceStatusData(kind) : status(kind))}\n`;
}

/**
 * commons-lang's `WordUtils.wrap(text, width)`: breaks at the last space within the width, a word longer than the
 * width stays whole, and the spaces at a break are dropped.
 */
export function wrapWords(text: string, width: number): string {
  let out = "";
  let offset = 0;
  const length = text.length;
  while (offset < length) {
    let breakAt = -1;
    const window = text.slice(offset, Math.min(offset + width + 1, length));
    let first = window.indexOf(" ");
    if (first === 0) {
      offset += 1;
      continue;
    }
    if (first > 0) breakAt = first + offset;
    if (length - offset <= width) break;
    while (first >= 0) {
      breakAt = first + offset;
      first = window.indexOf(" ", first + 1);
    }
    if (breakAt >= offset) {
      out += `${text.slice(offset, breakAt)}\n`;
      offset = breakAt + 1;
    } else {
      const next = text.indexOf(" ", offset + width);
      if (next >= 0) {
        out += `${text.slice(offset, next)}\n`;
        offset = next + 1;
      } else {
        out += text.slice(offset);
        offset = length;
      }
    }
  }
  return out + text.slice(offset);
}

/** `available-sinks|sources`: each connector's name, its description wrapped at 80 columns, and a rule. */
export function availableOutput(kind: Kind, connectors: Array<Record<string, unknown>>): string {
  return connectors
    .filter((connector) => typeof connector[`${kind}Class`] === "string" && String(connector[`${kind}Class`]).trim())
    .map((connector) => {
      const description = connector.description;
      const wrapped = typeof description === "string" ? wrapWords(description, 80) : "null";
      return `${String(connector.name)}\n${wrapped}\n----------------------------------------\n`;
    })
    .join("");
}
