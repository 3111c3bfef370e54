import {
  type ConfigSchema,
  compatOnly,
  compatOnlyKeys,
  defineSink,
  type SinkDefinition,
  z,
} from "@pulsar-connect/core";
import { checkSecurity, kafkaSecurityFields } from "@pulsar-connect/kafka-common";

/** Kafka producer properties this connector understands, and what each one sets. */
export const SUPPORTED_PRODUCER_PROPERTIES: Readonly<Record<string, string>> = {
  "client.id": "clientId",
  "enable.idempotence": "idempotent producer (forces acks=all)",
  "max.in.flight.requests.per.connection": "produce requests in flight",
  "request.timeout.ms": "requestTimeout",
  retries: "retries of a failed produce request",
  "compression.type": "none or gzip",
  "linger.ms": "warns: a write is sent at once",
  "batch.size": "same as batchSize (the field wins)",
  "max.request.size": "same as maxRequestSize (the field wins)",
};

const positiveInt = z.number().int().positive();
const propertyValue = z.union([z.string(), z.number(), z.boolean()]);

/** Config of the Kafka sink, with the upstream field names and defaults. */
const schema = z
  .object({
    bootstrapServers: z
      .string()
      .min(1, "must list at least one host:port")
      .describe("Kafka brokers, host:port,host:port"),
    topic: z.string().min(1, "must not be empty").describe("Kafka topic to write"),
    acks: z
      .union([z.enum(["all", "-1", "1", "0"]), z.literal(-1), z.literal(0), z.literal(1)])
      .default("all")
      .transform((value): "all" | "1" | "0" =>
        value === "all" || String(value) === "-1" ? "all" : value === 1 || value === "1" ? "1" : "0",
      )
      .describe("Acknowledgements the leader waits for: all (-1), 1 or 0"),
    enableIdempotence: z
      .boolean()
      .default(false)
      .describe("Idempotent producer: no duplicates from producer retries (requires acks=all)"),
    batchSize: positiveInt.default(16384).describe("Upper bound of bytes per produce request; bigger writes are split"),
    maxRequestSize: positiveInt
      .default(1048576)
      .describe("Largest record (key + value + headers, bytes); bigger records fail without retry"),
    keySerializerClass: compatOnly(
      z.string().optional(),
      "a Java serializer class has no meaning in Node; keys are written as UTF-8",
    ).describe("Upstream Java key serializer class"),
    valueSerializerClass: compatOnly(
      z.string().optional(),
      "a Java serializer class has no meaning in Node; values are written as the message bytes",
    ).describe("Upstream Java value serializer class"),
    copyHeadersEnabled: z.boolean().default(false).describe("Copy message properties to Kafka headers (UTF-8)"),
    producerConfigProperties: compatOnlyKeys(z.record(z.string(), propertyValue).nullish(), {
      "linger.ms": "each write is sent at once; batching comes from the runtime's batches",
    }).describe(
      `Kafka producer properties; the explicit fields win. Supported: ${Object.keys(SUPPORTED_PRODUCER_PROPERTIES).join(", ")}`,
    ),
    ...kafkaSecurityFields,
  })
  .superRefine((config, ctx) => {
    const props = config.producerConfigProperties ?? {};
    for (const [key, value] of Object.entries(props)) {
      if (!(key in SUPPORTED_PRODUCER_PROPERTIES)) {
        ctx.addIssue({
          code: "custom",
          path: ["producerConfigProperties", key],
          message: `is not supported (supported: ${Object.keys(SUPPORTED_PRODUCER_PROPERTIES).join(", ")})`,
        });
      } else if (key === "compression.type" && value !== "none" && value !== "gzip") {
        ctx.addIssue({ code: "custom", path: ["producerConfigProperties", key], message: "must be none or gzip" });
      } else if (key === "enable.idempotence" && String(value) !== "true" && String(value) !== "false") {
        ctx.addIssue({ code: "custom", path: ["producerConfigProperties", key], message: "must be true or false" });
      } else if (
        key !== "client.id" &&
        key !== "compression.type" &&
        key !== "enable.idempotence" &&
        !(Number.isInteger(Number(value)) && Number(value) >= 0)
      ) {
        ctx.addIssue({ code: "custom", path: ["producerConfigProperties", key], message: "must be a whole number" });
      }
    }
    if (isIdempotent(config) && config.acks !== "all") {
      ctx.addIssue({ code: "custom", path: ["acks"], message: "must be all (-1) when idempotence is enabled" });
    }
    checkSecurity(config, ctx);
  });

/** Whether the config asks for the idempotent producer (field or enable.idempotence property). */
export function isIdempotent(config: {
  enableIdempotence: boolean;
  producerConfigProperties?: Record<string, string | number | boolean> | null | undefined;
}): boolean {
  return config.enableIdempotence || String(config.producerConfigProperties?.["enable.idempotence"]) === "true";
}

/** The validated Kafka sink config. */
export type KafkaSinkConfig = z.output<typeof schema>;

/** Config schema of the Kafka sink. */
export const kafkaSinkConfig: ConfigSchema = schema;

/** The Kafka sink: writes each record's bytes, key and (optionally) properties to a Kafka topic. */
export const kafkaSink: SinkDefinition = defineSink({
  name: "kafka",
  description: "Writes records to a Kafka topic",
  config: schema,
  batchSize: 1000,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).KafkaSink.open(config, context),
});
