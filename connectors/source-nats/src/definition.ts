import { type ConfigSchema, defineSource, type SourceDefinition, z } from "@pulsar-connect/core";
import { checkNatsConnection, natsConnectionFields } from "@pulsar-connect/nats-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...natsConnectionFields,
    mode: z
      .enum(["jetstream", "core"])
      .default("jetstream")
      .describe(
        "jetstream: a durable consumer, acked after the Pulsar receipt; core: a plain subscription (at most once)",
      ),
    stream: z.string().optional().describe("JetStream stream to read (jetstream mode)"),
    durableName: z
      .string()
      .regex(/^[^\s.*>]+$/, "must be a consumer name (no spaces, dots or wildcards)")
      .optional()
      .describe("Durable consumer of the stream, created when missing (jetstream mode)"),
    subject: z
      .string()
      .optional()
      .describe("Subject to subscribe to (core mode), or filter of the durable consumer (jetstream mode)"),
    queueGroup: z.string().optional().describe("Queue group of the core subscription: instances share the messages"),
    deliverPolicy: z
      .enum(["all", "new", "last"])
      .default("all")
      .describe("Where a consumer created by the source starts: all, new or last"),
    ackWaitMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe("How long JetStream waits for an ack before it redelivers a message"),
    maxAckPending: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Messages delivered and not acked at most (JetStream's flow control)"),
    batchSize: z.number().int().positive().default(100).describe("Messages per pull request"),
    ordered: z
      .boolean()
      .default(false)
      .describe(
        "Each opening delivers again from the consumer's ack floor, in stream order, and records carry the stream sequence: needed for EFFECTIVELY_ONCE (one instance)",
      ),
  })
  .superRefine((config, ctx) => {
    checkNatsConnection(config, ctx);
    if (config.mode === "jetstream") {
      if (!config.stream) ctx.addIssue({ code: "custom", path: ["stream"], message: "is required in jetstream mode" });
      if (!config.durableName) {
        ctx.addIssue({ code: "custom", path: ["durableName"], message: "is required in jetstream mode" });
      }
      if (config.ordered && config.deliverPolicy !== "all") {
        ctx.addIssue({ code: "custom", path: ["deliverPolicy"], message: "must be all with ordered" });
      }
      if (config.queueGroup !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["queueGroup"],
          message: "is for core mode (durable consumers share by name)",
        });
      }
    } else {
      if (!config.subject) ctx.addIssue({ code: "custom", path: ["subject"], message: "is required in core mode" });
      if (config.ordered) ctx.addIssue({ code: "custom", path: ["ordered"], message: "is for jetstream mode" });
      for (const field of ["stream", "durableName"] as const) {
        if (config[field] !== undefined) {
          ctx.addIssue({ code: "custom", path: [field], message: "is for jetstream mode" });
        }
      }
    }
  });

/** The validated NATS source config. */
export type NatsSourceConfig = z.output<typeof schema>;

/** Config schema of the NATS source. */
export const natsSourceConfig: ConfigSchema = schema;

/** The NATS source. */
export const natsSource: SourceDefinition = defineSource({
  name: "nats",
  description: "Reads NATS: a JetStream durable consumer acked after the Pulsar receipt, or a core subscription",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).NatsSource.open(config, context),
});
