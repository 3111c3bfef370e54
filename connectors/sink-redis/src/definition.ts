import { type ConfigSchema, compatOnly, defineSink, type SinkDefinition, z } from "@pulsar-connect/core";
import { checkRedisConnection, redisConnectionFields } from "@pulsar-connect/redis-common";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...redisConnectionFields,
    operationTimeout: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Milliseconds before a pipelined write counts as failed (and is retried)"),
    batchTimeMs: compatOnly(
      z.number().int().positive().optional(),
      "the runtime forms the batches; a write is sent as soon as its batch is ready",
    ).describe("Upstream flush interval"),
    batchSize: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe("Commands per pipeline round trip; larger batches are sent as several pipelines"),
    mode: z
      .enum(["keyValue", "hash"])
      .default("keyValue")
      .describe("keyValue: SET <key> <value> (upstream); hash: HSET <hashName> <key> <value>"),
    hashName: z.string().optional().describe("Hash the fields go to in hash mode"),
    keyPrefix: z.string().default("").describe("Prepended to every key (keyValue) or field (hash)"),
    missingKey: z
      .enum(["empty", "messageId", "refuse"])
      .default("empty")
      .describe(
        "Key of a record without one: empty (upstream: the empty string), messageId (the Pulsar message id), refuse",
      ),
  })
  .superRefine((config, ctx) => {
    checkRedisConnection(config, ctx);
    if (config.mode === "hash" && !config.hashName) {
      ctx.addIssue({ code: "custom", path: ["hashName"], message: "is required in hash mode" });
    }
    if (config.mode === "keyValue" && config.hashName !== undefined) {
      ctx.addIssue({ code: "custom", path: ["hashName"], message: "is only used in hash mode" });
    }
  });

/** The validated Redis sink config. */
export type RedisSinkConfig = z.output<typeof schema>;

/** Config schema of the Redis sink. */
export const redisSinkConfig: ConfigSchema = schema;

/** The Redis sink: SET or HSET per record, pipelined. */
export const redisSink: SinkDefinition = defineSink({
  name: "redis",
  description: "Writes records to Redis as keys or hash fields, pipelined",
  config: schema,
  batchSize: 200,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).RedisSink.open(config, context),
});
