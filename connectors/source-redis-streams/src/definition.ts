import { type ConfigSchema, defineSource, type SourceDefinition, z } from "@pulsar-connect/core";
import { checkRedisConnection, redisConnectionFields } from "@pulsar-connect/redis-common";

const streamId = /^(\$|0|\d+(-\d+)?)$/;

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    ...redisConnectionFields,
    streamKey: z.string().min(1, "must name the stream").describe("Key of the stream to read"),
    consumerGroup: z.string().min(1, "must name the consumer group").describe("Consumer group the instances share"),
    consumerName: z
      .string()
      .min(1)
      .optional()
      .describe("Consumer name of this instance; default <connector name>-<instance id>, stable across restarts"),
    startId: z
      .string()
      .regex(streamId, "must be $, 0 or a stream id such as 1700000000000-0")
      .default("0")
      .describe("Where a group created by the source starts: 0 = the whole stream, $ = only new entries"),
    createGroup: z
      .boolean()
      .default(true)
      .describe("Create the group (and the stream) when missing; false: a missing group is an error"),
    batchSize: z.number().int().positive().default(100).describe("Entries per XREADGROUP"),
    blockMs: z.number().int().positive().default(1000).describe("How long one XREADGROUP waits for new entries"),
    claimIdleMs: z
      .number()
      .int()
      .nonnegative()
      .default(60_000)
      .describe("Take over entries other consumers left unacknowledged this long (XAUTOCLAIM); 0 = never"),
    valueField: z
      .string()
      .optional()
      .describe(
        "Entry field whose bytes are the value (the other fields become properties); default: all fields as JSON",
      ),
    keyField: z.string().optional().describe("Entry field that becomes the record key"),
  })
  .superRefine((config, ctx) => checkRedisConnection(config, ctx));

/** The validated Redis Streams source config. */
export type RedisStreamSourceConfig = z.output<typeof schema>;

/** Config schema of the Redis Streams source. */
export const redisStreamSourceConfig: ConfigSchema = schema;

/** The Redis Streams source: XREADGROUP, XACK after the Pulsar receipt, pending entries read again after a crash. */
export const redisStreamSource: SourceDefinition = defineSource({
  name: "redis-streams",
  description: "Reads a Redis stream through a consumer group; each entry is XACKed after Pulsar stored it",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).RedisStreamSource.open(config, context),
});
