import { type ConfigSchema, defineSink, type SinkDefinition, sensitive, z } from "@pulsar-connect/core";

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === "" ? undefined : value));

/** Config of the Aerospike sink, with the upstream field names and defaults plus structured mode. */
const schema = z
  .object({
    seedHosts: z
      .string()
      .min(1, "must list at least one host:port")
      .refine(
        (value) =>
          value
            .split(",")
            .map((host) => host.trim())
            .filter((host) => host !== "")
            .every((host) => /^[^:\s]+:\d{1,5}$/.test(host)),
        { message: "every entry must be host:port (the port is required)" },
      )
      .describe("Seed nodes, host:port,host:port"),
    keyspace: z.string().min(1, "must not be empty").describe("Aerospike namespace to write to"),
    columnName: optionalText.describe("Bin that gets the value as a UTF-8 string (string mode)"),
    keySet: optionalText.describe("Set name of the records (none when empty)"),
    mode: z
      .enum(["string", "structured"])
      .default("string")
      .describe("string: value text -> columnName bin (upstream); structured: JSON/Avro fields -> same-named bins"),
    keyField: optionalText.describe("Structured mode: field used as the record key when the message has no key"),
    userName: optionalText.describe("User name (set together with password)"),
    password: sensitive(optionalText).describe("Password (set together with userName)"),
    maxConcurrentRequests: z
      .number()
      .int()
      .positive()
      .default(100)
      .describe("Puts in flight at once (the runtime's writes in flight; one put each at a time)"),
    timeoutMs: z.number().int().positive().default(100).describe("Total timeout of one write (ms)"),
    retries: z.number().int().min(0).default(1).describe("Retries of a write by the client (maxRetries)"),
  })
  .superRefine((config, ctx) => {
    if ((config.userName === undefined) !== (config.password === undefined)) {
      const path = config.userName === undefined ? "userName" : "password";
      ctx.addIssue({ code: "custom", path: [path], message: "userName and password must be set together" });
    }
    if (config.mode === "string" && config.columnName === undefined) {
      ctx.addIssue({ code: "custom", path: ["columnName"], message: "is required in string mode" });
    }
    if (config.columnName !== undefined && Buffer.byteLength(config.columnName) > 15) {
      ctx.addIssue({ code: "custom", path: ["columnName"], message: "bin names have at most 15 bytes" });
    }
  });

/** The validated Aerospike sink config. */
export type AerospikeSinkConfig = z.output<typeof schema>;

/** Config schema of the Aerospike sink. */
export const aerospikeSinkConfig: ConfigSchema = schema;

/** The Aerospike sink: one record per message; the runtime runs `maxConcurrentRequests` writes at once. */
export const aerospikeSink: SinkDefinition = defineSink({
  name: "aerospike",
  description: "Writes records to an Aerospike namespace",
  config: schema,
  // Puts of a write go one after another; small writes keep maxConcurrentRequests of them busy.
  batchSize: 16,
  maxInFlight: (config) => config.maxConcurrentRequests,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).AerospikeSink.open(config, context),
});
