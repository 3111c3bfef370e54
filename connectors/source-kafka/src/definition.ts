import {
  type ConfigSchema,
  compatOnly,
  compatOnlyKeys,
  defineSource,
  type SourceDefinition,
  z,
} from "@pulsar-connect/core";
import { checkSecurity, kafkaSecurityFields } from "@pulsar-connect/kafka-common";

const positiveInt = z.number().int().positive();

/** Kafka consumer properties this connector understands, and the kafkajs option each one sets. */
export const SUPPORTED_CONSUMER_PROPERTIES: Readonly<Record<string, string>> = {
  "client.id": "clientId",
  "fetch.max.bytes": "maxBytes",
  "fetch.max.wait.ms": "maxWaitTimeInMs",
  "max.partition.fetch.bytes": "maxBytesPerPartition",
  "max.poll.interval.ms": "rebalanceTimeout",
  "max.poll.records": "buffer size (records held before fetching pauses)",
  "request.timeout.ms": "requestTimeout",
  "isolation.level": "readUncommitted (read_uncommitted | read_committed)",
  "allow.auto.create.topics": "allowAutoTopicCreation",
  "enable.auto.commit": "warns: offsets are only committed after Pulsar has the records",
  "auto.commit.interval.ms": "warns: offsets are only committed after Pulsar has the records",
};

const AUTO_COMMIT =
  "Kafka auto-commit would commit offsets before Pulsar stores the records (data loss on a crash); " +
  "offsets are committed only after the runtime acknowledges the records";

const propertyValue = z.union([z.string(), z.number(), z.boolean()]);

/** Config of the Kafka source, with the upstream field names and defaults. */
const schema = z
  .object({
    bootstrapServers: z
      .string()
      .min(1, "must list at least one host:port")
      .describe("Kafka brokers, host:port,host:port"),
    groupId: z.string().min(1, "must not be empty").describe("Kafka consumer group id"),
    topic: z.string().min(1, "must not be empty").describe("Kafka topic to read"),
    fetchMinBytes: positiveInt.default(1).describe("Minimum bytes the broker gathers before answering a fetch"),
    autoCommitEnabled: compatOnly(z.boolean().default(true), AUTO_COMMIT).describe("Upstream Kafka auto-commit switch"),
    autoCommitIntervalMs: compatOnly(positiveInt.default(5000), AUTO_COMMIT).describe(
      "Upstream Kafka auto-commit interval (ms)",
    ),
    offsetCommitIntervalMs: positiveInt
      .default(1000)
      .describe("How often acknowledged offsets are committed to Kafka (ms); close() commits the rest"),
    sessionTimeoutMs: positiveInt.default(30000).describe("Consumer group session timeout (ms)"),
    heartbeatIntervalMs: positiveInt.default(3000).describe("Consumer group heartbeat interval (ms)"),
    autoOffsetReset: z
      .enum(["earliest", "latest"])
      .default("earliest")
      .describe("Where a group without committed offsets starts"),
    keyDeserializationClass: compatOnly(
      z.string().optional(),
      "a Java deserializer class has no meaning in Node; keys are read as UTF-8",
    ).describe("Upstream Java key deserializer class"),
    valueDeserializationClass: compatOnly(
      z.string().optional(),
      "a Java deserializer class has no meaning in Node; values are passed on as bytes",
    ).describe("Upstream Java value deserializer class"),
    consumerConfigProperties: compatOnlyKeys(z.record(z.string(), propertyValue).nullish(), {
      "enable.auto.commit": AUTO_COMMIT,
      "auto.commit.interval.ms": AUTO_COMMIT,
    }).describe(
      `Kafka consumer properties; the explicit fields win. Supported: ${Object.keys(SUPPORTED_CONSUMER_PROPERTIES).join(", ")}`,
    ),
    copyHeadersEnabled: z
      .boolean()
      .default(false)
      .describe("Copy Kafka headers to message properties, plus __kafka_topic, __kafka_partition, __kafka_offset"),
    headerValueEncoding: z
      .enum(["base64", "utf8"])
      .default("base64")
      .describe("How header bytes become property strings (upstream uses base64)"),
    maxBufferedRecords: positiveInt
      .default(10000)
      .describe("Records fetched ahead of the runtime; fetching pauses above this"),
    idleReadTimeoutMs: positiveInt
      .default(1000)
      .describe("How long read() waits for records before answering with an empty batch (ms)"),
    ...kafkaSecurityFields,
  })
  .superRefine((config, ctx) => {
    if (config.heartbeatIntervalMs >= config.sessionTimeoutMs) {
      ctx.addIssue({
        code: "custom",
        path: ["heartbeatIntervalMs"],
        message: `must be lower than sessionTimeoutMs (${config.sessionTimeoutMs})`,
      });
    }
    for (const [key, value] of Object.entries(config.consumerConfigProperties ?? {})) {
      if (!(key in SUPPORTED_CONSUMER_PROPERTIES)) {
        ctx.addIssue({
          code: "custom",
          path: ["consumerConfigProperties", key],
          message: `is not supported (supported: ${Object.keys(SUPPORTED_CONSUMER_PROPERTIES).join(", ")})`,
        });
      } else if (key === "isolation.level" && value !== "read_committed" && value !== "read_uncommitted") {
        ctx.addIssue({
          code: "custom",
          path: ["consumerConfigProperties", key],
          message: "must be read_committed or read_uncommitted",
        });
      } else if (
        key !== "client.id" &&
        key !== "isolation.level" &&
        key !== "allow.auto.create.topics" &&
        key !== "enable.auto.commit" &&
        !(Number.isInteger(Number(value)) && Number(value) > 0)
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["consumerConfigProperties", key],
          message: "must be a positive integer",
        });
      }
    }
    checkSecurity(config, ctx);
  });

/** The validated Kafka source config. */
export type KafkaSourceConfig = z.output<typeof schema>;

/** Config schema of the Kafka source. */
export const kafkaSourceConfig: ConfigSchema = schema;

/** The Kafka source: reads a Kafka topic through a consumer group and commits offsets only for acked records. */
export const kafkaSource: SourceDefinition = defineSource({
  name: "kafka",
  description: "Reads records from a Kafka topic, committing offsets only after Pulsar has them",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).KafkaSource.open(config, context),
});
