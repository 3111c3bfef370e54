import { type ConfigSchema, defineSink, type SinkDefinition, sensitive, z } from "@pulsar-connect/core";

/** A header map; from a secret it arrives as JSON text, so that form is accepted too. */
const headerMap = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  },
  z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid header name"), z.string()),
);

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
      .default("http://localhost")
      .describe("The URL the records are POSTed to (upstream)"),
    headers: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid header name"), z.string())
      .default({})
      .describe("Headers added to each request (upstream)"),
    secretHeaders: sensitive(headerMap.optional()).describe(
      'Headers whose values are secret (e.g. {"Authorization": "Bearer ..."}), redacted wherever config is shown; ' +
        "from `secrets` as JSON text of the map",
    ),
    requestMode: z
      .enum(["perRecord", "jsonArray"])
      .default("perRecord")
      .describe(
        "perRecord: one request per record with the Pulsar* headers (upstream); jsonArray: one request per batch, " +
          "its body a JSON array of the record values",
      ),
    bodyFormat: z
      .enum(["json", "raw"])
      .default("json")
      .describe(
        "json: the record value as JSON (upstream; bytes as base64); raw: the message payload bytes as they are " +
          "(perRecord only)",
      ),
    contentType: z
      .string()
      .optional()
      .describe(
        "Content-Type of the requests (or a Content-Type in headers); default application/json (json), application/octet-stream (raw)",
      ),
    batchMaxRecords: z.number().int().positive().default(100).describe("jsonArray: most records in one request"),
    batchMaxBytes: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .describe("jsonArray: a request body grows no larger than this (a single larger record goes alone)"),
    batchLingerMs: z
      .number()
      .int()
      .nonnegative()
      .default(100)
      .describe("jsonArray: how long a batch waits for more records after its first"),
    requestTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe("Milliseconds before a request without a complete response counts as failed (and is retried)"),
    maxRetryAfterMs: z
      .number()
      .int()
      .nonnegative()
      .default(300_000)
      .describe("Longest wait a Retry-After header of a 429 or 503 response is honoured for"),
  })
  .superRefine((config, ctx) => {
    if (config.bodyFormat === "raw" && config.requestMode === "jsonArray") {
      ctx.addIssue({ code: "custom", path: ["bodyFormat"], message: "raw bodies are sent per record only" });
    }
    // The sink frames each request itself; a header that changes the framing would corrupt it.
    for (const [field, map] of [
      ["headers", config.headers],
      ["secretHeaders", config.secretHeaders ?? {}],
    ] as const) {
      for (const name of Object.keys(map)) {
        if (["content-length", "transfer-encoding", "connection"].includes(name.toLowerCase())) {
          ctx.addIssue({ code: "custom", path: [field, name], message: "is set by the sink itself" });
        }
      }
    }
    if (
      config.contentType !== undefined &&
      Object.keys(config.headers).some((n) => n.toLowerCase() === "content-type")
    ) {
      ctx.addIssue({ code: "custom", path: ["contentType"], message: "is also set as a Content-Type header" });
    }
    for (const name of Object.keys(config.secretHeaders ?? {})) {
      if (Object.keys(config.headers).some((plain) => plain.toLowerCase() === name.toLowerCase())) {
        ctx.addIssue({ code: "custom", path: ["secretHeaders"], message: `${name} is also set in headers` });
      }
    }
  });

/** The validated HTTP sink config. */
export type HttpSinkConfig = z.output<typeof schema>;

/** Config schema of the HTTP sink. */
export const httpSinkConfig: ConfigSchema = schema;

/** The HTTP sink: POSTs records to a URL, one request per record (upstream) or JSON-array batches. */
export const httpSink: SinkDefinition = defineSink({
  name: "http",
  description: "Sends records to an HTTP endpoint as POST requests (webhook)",
  config: schema,
  batchSize: 100,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/sink.ts")).HttpSink.open(config, context),
});
