import { type ConfigSchema, defineSink, type SinkDefinition, z } from "@pulsar-connect/core";
import { mqttConnectionFields } from "@pulsar-connect/mqtt-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z.strictObject({
  ...mqttConnectionFields,
  topic: z
    .string()
    .min(1, "must name the topic")
    .regex(/^[^#+]+$/, "must be a topic name without wildcards")
    .describe("Topic to publish to"),
  qos: z
    .union([z.literal(0), z.literal(1), z.literal(2)])
    .default(1)
    .describe("0: fire and forget; 1: the broker's PUBACK; 2: the broker's PUBCOMP (exactly once to the broker)"),
  retain: z.boolean().default(false).describe("Publish with the retain flag"),
  publishTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe("How long a write waits for the broker's acknowledgements before it fails (and is retried)"),
});

/** The validated MQTT sink config. */
export type MqttSinkConfig = z.output<typeof schema>;

/** Config schema of the MQTT sink. */
export const mqttSinkConfig: ConfigSchema = schema;

/** The MQTT sink. */
export const mqttSink: SinkDefinition = defineSink({
  name: "mqtt",
  description: "Publishes records to an MQTT broker with QoS 0, 1 or 2",
  config: schema,
  batchSize: 200,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).MqttSink.open(config, context),
});
