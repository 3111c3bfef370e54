import { type ConfigSchema, defineSink, type SinkDefinition, z } from "@pulsar-connect/core";
import { checkNatsConnection, natsConnectionFields } from "@pulsar-connect/nats-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...natsConnectionFields,
    subject: z
      .string()
      .min(1, "must name the subject")
      .regex(/^[^\s*>]+$/, "must be a subject without wildcards")
      .describe("Subject to publish to"),
    mode: z
      .enum(["jetstream", "core"])
      .default("jetstream")
      .describe("jetstream: wait for the stream's ack, message id = Pulsar message id; core: fire and forget"),
    maxInFlight: z.number().int().positive().default(256).describe("JetStream publishes awaiting their ack at once"),
  })
  .superRefine((config, ctx) => checkNatsConnection(config, ctx));

/** The validated NATS sink config. */
export type NatsSinkConfig = z.output<typeof schema>;

/** Config schema of the NATS sink. */
export const natsSinkConfig: ConfigSchema = schema;

/** The NATS sink. */
export const natsSink: SinkDefinition = defineSink({
  name: "nats",
  description: "Publishes records to NATS: JetStream with acks and message ids, or core NATS",
  config: schema,
  batchSize: 500,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).NatsSink.open(config, context),
});
