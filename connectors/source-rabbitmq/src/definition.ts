import { type ConfigSchema, defineSource, type SourceDefinition, z } from "@pulsar-connect/core";
import { queueTypeField, rabbitmqConnectionFields } from "@pulsar-connect/rabbitmq-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...rabbitmqConnectionFields,
    queueName: z.string().min(1, "must name the queue to consume").describe("Queue to consume"),
    prefetchCount: z
      .number()
      .int()
      .nonnegative()
      .max(65_535)
      .default(0)
      .describe("Unacknowledged messages the broker delivers ahead, 0 = unlimited (set a bound: they wait in memory)"),
    prefetchGlobal: z
      .boolean()
      .default(false)
      .describe("Apply prefetchCount to the whole channel instead of the consumer"),
    passive: z
      .boolean()
      .default(false)
      .describe("Only check that the queue exists (keeps its settings) instead of declaring it durable"),
    queueType: queueTypeField,
  })
  .superRefine((config, ctx) => {
    if (config.passive && config.queueType !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["queueType"],
        message: "has no effect with passive: the queue is not declared",
      });
    }
  });

/** The validated RabbitMQ source config. */
export type RabbitmqSourceConfig = z.output<typeof schema>;

/** Config schema of the RabbitMQ source. */
export const rabbitmqSourceConfig: ConfigSchema = schema;

/** The RabbitMQ source: consumes a queue with manual acks, each sent once Pulsar stored the message. */
export const rabbitmqSource: SourceDefinition = defineSource({
  name: "rabbitmq",
  description: "Consumes a RabbitMQ queue; each message is acked after Pulsar stored it",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).RabbitmqSource.open(config, context),
});
