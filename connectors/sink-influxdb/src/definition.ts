import { type ConfigSchema, compatOnly, defineSink, type SinkDefinition, sensitive, z } from "@pulsar-connect/core";

const consistencyLevels = ["ALL", "ANY", "ONE", "QUORUM", "all", "any", "one", "quorum"] as const;

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    influxdbUrl: z
      .string()
      .min(1, "must name the InfluxDB HTTP API, e.g. http://localhost:8086")
      .describe("URL of the InfluxDB 1.x HTTP API, e.g. http://localhost:8086"),
    username: sensitive(z.string().optional()).describe("User name (HTTP basic authentication)"),
    password: sensitive(z.string().optional()).describe("Password (HTTP basic authentication)"),
    database: z.string().min(1, "must name the database").describe("Database the points are written to"),
    consistencyLevel: z
      .enum(consistencyLevels)
      .default("ONE")
      .describe(
        "Write consistency (ALL, ANY, ONE, QUORUM; case-insensitive); only InfluxDB Enterprise clusters use it",
      ),
    logLevel: compatOnly(
      z.enum(["NONE", "BASIC", "HEADERS", "FULL"]).optional(),
      "it sets the request logging of upstream's Java HTTP client; failed writes are reported with the server's answer",
    ).describe("Upstream HTTP client log level"),
    retentionPolicy: z.string().min(1).default("autogen").describe("Retention policy the points are written to"),
    gzipEnable: z.boolean().default(false).describe("Compress each write request with gzip"),
    batchTimeMs: compatOnly(
      z.number().int().positive().optional(),
      "the runtime forms the batches; a write is sent as soon as its batch is ready",
    ).describe("Upstream flush interval"),
    batchSize: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe("Points per write request; larger batches are sent as several requests"),
    timestampField: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Value field holding the point's time (an integer in `precision` units); default: the time of writing, as upstream",
      ),
    precision: z.enum(["ns", "us", "ms", "s"]).default("ms").describe("Unit of timestampField"),
    createDatabase: z
      .boolean()
      .default(true)
      .describe("Create the database when it is missing (upstream does; needs admin rights)"),
    writeTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe("Milliseconds before a write request counts as failed (and is retried)"),
  })
  .superRefine((config, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(config.influxdbUrl);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      ctx.addIssue({ code: "custom", path: ["influxdbUrl"], message: "must be an http:// or https:// URL" });
    } else if (url.username !== "" || url.password !== "") {
      ctx.addIssue({
        code: "custom",
        path: ["influxdbUrl"],
        message: "must not carry credentials (use username and password)",
      });
    }
    if ((config.username === undefined) !== (config.password === undefined)) {
      const missing = config.username === undefined ? "username" : "password";
      ctx.addIssue({ code: "custom", path: [missing], message: "is required when the other credential is set" });
    }
  });

/** The validated InfluxDB sink config. */
export type InfluxdbSinkConfig = z.output<typeof schema>;

/** Config schema of the InfluxDB sink. */
export const influxdbSinkConfig: ConfigSchema = schema;

/** The InfluxDB 1.x sink: one point per record, written in line protocol over HTTP. */
export const influxdbSink: SinkDefinition = defineSink({
  name: "influxdb",
  description: "Writes records to InfluxDB 1.x as points in line protocol, batched over HTTP",
  config: schema,
  batchSize: 200,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).InfluxdbSink.open(config, context),
});
