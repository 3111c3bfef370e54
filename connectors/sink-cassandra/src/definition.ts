import { type ConfigSchema, defineSink, type SinkDefinition, sensitive, z } from "@pulsar-connect/core";

/** Consistency levels a write may ask for. */
export const CONSISTENCY_LEVELS = [
  "ANY",
  "ONE",
  "TWO",
  "THREE",
  "QUORUM",
  "ALL",
  "LOCAL_QUORUM",
  "EACH_QUORUM",
  "LOCAL_ONE",
] as const;

const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must be a Cassandra identifier (letters, digits, underscores)");
const optionalIdentifier = z
  .string()
  .optional()
  .transform((value) => (value === "" ? undefined : value))
  .refine((value) => value === undefined || /^[A-Za-z][A-Za-z0-9_]*$/.test(value), {
    message: "must be a Cassandra identifier (letters, digits, underscores)",
  });
const positiveInt = z.number().int().positive();

/** Config of the Cassandra sink, with the upstream field names plus structured mode, concurrency and retries. */
const schema = z
  .object({
    roots: z
      .string()
      .min(1, "must list at least one host[:port]")
      .describe("Contact points, host[:port],host[:port] (port 9042 when omitted)"),
    keyspace: identifier.describe("Keyspace of the table"),
    columnFamily: identifier.describe("Table to write"),
    keyname: optionalIdentifier.describe("Key column (string mode): gets the record key, or the value when no key"),
    columnName: optionalIdentifier.describe("Value column (string mode): gets the value as a UTF-8 string"),
    mode: z
      .enum(["string", "structured"])
      .default("string")
      .describe(
        "string: key -> keyname, value text -> columnName (upstream); structured: JSON/Avro fields -> same-named columns",
      ),
    userName: z
      .string()
      .optional()
      .transform((value) => (value === "" ? undefined : value))
      .describe("User name (set together with password)"),
    password: sensitive(
      z
        .string()
        .optional()
        .transform((value) => (value === "" ? undefined : value)),
    ).describe("Password (set together with userName)"),
    localDc: z.string().min(1).default("datacenter1").describe("Local data center of the load balancing policy"),
    consistencyLevel: z.enum(CONSISTENCY_LEVELS).default("LOCAL_ONE").describe("Consistency level of each write"),
    maxConcurrentRequests: positiveInt
      .default(64)
      .describe("Inserts in flight at once, per instance (the runtime's writes in flight; one insert each at a time)"),
    retries: z
      .number()
      .int()
      .min(0)
      .default(3)
      .describe("Retries in a row of a transient failure, by the runtime; then the instance fails and restarts"),
    retryBackoffMs: positiveInt.default(100).describe("First retry delay (ms); doubles per retry, capped at 5 s"),
    requestTimeoutMs: positiveInt.default(12000).describe("Client-side timeout of one write (ms)"),
  })
  .superRefine((config, ctx) => {
    if ((config.userName === undefined) !== (config.password === undefined)) {
      const path = config.userName === undefined ? "userName" : "password";
      ctx.addIssue({ code: "custom", path: [path], message: "userName and password must be set together" });
    }
    if (config.mode === "string") {
      for (const field of ["keyname", "columnName"] as const) {
        if (config[field] === undefined) {
          ctx.addIssue({ code: "custom", path: [field], message: "is required in string mode" });
        }
      }
    }
  });

/** The validated Cassandra sink config. */
export type CassandraSinkConfig = z.output<typeof schema>;

/** Config schema of the Cassandra sink. */
export const cassandraSinkConfig: ConfigSchema = schema;

/**
 * The Cassandra sink: prepared inserts. The runtime runs `maxConcurrentRequests` writes at once and retries transient
 * errors `retries` times with its backoff from `retryBackoffMs`.
 */
export const cassandraSink: SinkDefinition = defineSink({
  name: "cassandra",
  description: "Writes records to a Cassandra table",
  config: schema,
  // Inserts of a write go one after another; small writes keep maxConcurrentRequests of them busy.
  batchSize: 16,
  maxInFlight: (config) => config.maxConcurrentRequests,
  writeRetries: (config) => ({
    maxRetries: config.retries,
    initialBackoffMs: config.retryBackoffMs,
    maxBackoffMs: 5000,
  }),
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config) => (await import("./internal/sink.ts")).CassandraSink.open(config),
});
