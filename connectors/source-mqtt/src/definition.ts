import { type ConfigSchema, defineSource, type SourceDefinition, z } from "@pulsar-connect/core";
import { mqttConnectionFields } from "@pulsar-connect/mqtt-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...mqttConnectionFields,
    topics: z
      .string()
      .min(1, "must list at least one topic filter")
      .describe(
        "Topic filters separated by commas; wildcards + and #; $share/<group>/<filter> for shared subscriptions",
      ),
    qos: z
      .union([z.literal(0), z.literal(1), z.literal(2)])
      .default(1)
      .describe("Subscription QoS; 1 and 2 are acknowledged to the broker only after Pulsar stored the message"),
    cleanSession: z
      .boolean()
      .default(false)
      .describe("false: a persistent session; the broker keeps unacknowledged and new messages while disconnected"),
    sessionExpirySec: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("MQTT 5: how long the broker keeps the persistent session after a disconnect (default one week)"),
  })
  .superRefine((config, ctx) => {
    for (const filter of config.topics.split(",").map((t) => t.trim())) {
      if (filter === "" || /#./.test(filter) || /[^/]#|\+[^/]|[^/]\+/.test(filter.replace(/^\$share\/[^/]+\//, ""))) {
        ctx.addIssue({ code: "custom", path: ["topics"], message: `"${filter}" is not a valid topic filter` });
      }
    }
    if (config.sessionExpirySec !== undefined && config.protocolVersion !== 5) {
      ctx.addIssue({ code: "custom", path: ["sessionExpirySec"], message: "is an MQTT 5 setting (protocolVersion 5)" });
    }
    if (config.sessionExpirySec !== undefined && config.cleanSession) {
      ctx.addIssue({
        code: "custom",
        path: ["sessionExpirySec"],
        message: "needs a persistent session (cleanSession false)",
      });
    }
  });

/** The validated MQTT source config. */
export type MqttSourceConfig = z.output<typeof schema>;

/** Config schema of the MQTT source. */
export const mqttSourceConfig: ConfigSchema = schema;

/** The MQTT source. */
export const mqttSource: SourceDefinition = defineSource({
  name: "mqtt",
  description: "Subscribes to MQTT topics; QoS 1/2 messages are acknowledged after Pulsar stored them",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).MqttSource.open(config, context),
});
