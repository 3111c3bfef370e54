import { type ConfigSchema, defineSink, type SinkDefinition, z } from "@pulsar-connect/core";
import { queueTypeField, rabbitmqConnectionFields } from "@pulsar-connect/rabbitmq-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...rabbitmqConnectionFields,
    exchangeName: z.string().min(1, "must name the exchange to publish to").describe("Exchange to publish to"),
    exchangeType: z
      .enum(["direct", "fanout", "topic", "headers"])
      .optional()
      .describe("Type of the exchange, declared durable when missing: topic by default, direct with queueName"),
    routingKey: z.string().default("").describe("Routing key when the record has no `routingKey` property"),
    queueName: z
      .string()
      .default("")
      .describe("When set: a durable queue declared and bound to a direct exchange with routingKey"),
    queueType: queueTypeField,
    deliveryMode: z
      .enum(["persistent", "transient"])
      .default("persistent")
      .describe("persistent: the broker writes messages to disk before it confirms them"),
    maxInFlight: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Published messages awaiting their confirm before publishing pauses"),
  })
  .superRefine((config, ctx) => {
    if (config.queueName === "" && config.queueType !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["queueType"],
        message: "needs queueName: the sink declares no queue without it",
      });
    }
    if (config.queueName !== "" && config.exchangeType !== undefined && config.exchangeType !== "direct") {
      ctx.addIssue({
        code: "custom",
        path: ["exchangeType"],
        message: "must be direct (or left out) when queueName is set: the queue is bound with routingKey",
      });
    }
  });

/** The validated RabbitMQ sink config. */
export type RabbitmqSinkConfig = z.output<typeof schema>;

/** Config schema of the RabbitMQ sink. */
export const rabbitmqSinkConfig: ConfigSchema = schema;

/** The RabbitMQ sink: publishes each record's bytes and waits for the broker's confirm. */
export const rabbitmqSink: SinkDefinition = defineSink({
  name: "rabbitmq",
  description: "Publishes records to a RabbitMQ exchange, with publisher confirms",
  config: schema,
  batchSize: 500,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).RabbitmqSink.open(config, context),
});
