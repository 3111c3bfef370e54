import { type ConfigSchema, defineSource, type SourceDefinition, sensitive, z } from "@pulsar-connect/core";

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid header name");

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .default("127.0.0.1")
      .describe("Address the server binds to; 0.0.0.0 (or ::) to accept requests from other hosts"),
    port: z.number().int().min(0).max(65_535).default(10_999).describe("Port the server listens on"),
    path: z
      .string()
      .regex(/^\/[^?#]*$/, "must start with / and hold no query")
      .default("/")
      .describe("Path that accepts POSTs; other paths answer 404"),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .describe("Largest request body; a larger one is answered 413"),
    bodyFormat: z
      .enum(["bytes", "string", "json"])
      .default("bytes")
      .describe(
        "What a body must be: bytes (anything, sent as it is), string (UTF-8 text), json (a JSON document, sent as " +
          "it came); a body that is not is answered 400",
      ),
    headerProperties: z
      .array(headerName)
      .default([])
      .describe("Request headers copied into record properties (named by the header in lower case)"),
    keyHeader: headerName.optional().describe("Request header whose value becomes the record key"),
    signatureHeader: headerName
      .optional()
      .describe("Header carrying the HMAC signature of the body (e.g. X-Hub-Signature-256); unset: no check"),
    signatureSecret: sensitive(z.string().min(1).optional()).describe("Key of the HMAC signature check"),
    signatureAlgorithm: z.enum(["sha256"]).default("sha256").describe("HMAC algorithm"),
    signaturePrefix: z
      .string()
      .default("sha256=")
      .describe("Text before the hex digest in the signature header (GitHub style); empty: the digest alone"),
    bearerToken: sensitive(z.string().min(1).optional()).describe(
      "When set, requests must carry Authorization: Bearer <token>; others are answered 401",
    ),
    maxPendingRequests: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Requests waiting for their Pulsar receipt at once; more are answered 503 with Retry-After"),
    receiptTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe("A request whose record has no Pulsar receipt after this long is answered 503 (the client retries)"),
  })
  .superRefine((config, ctx) => {
    if (config.signatureHeader !== undefined && config.signatureSecret === undefined) {
      ctx.addIssue({ code: "custom", path: ["signatureSecret"], message: "is required with signatureHeader" });
    }
    if (config.signatureSecret !== undefined && config.signatureHeader === undefined) {
      ctx.addIssue({ code: "custom", path: ["signatureHeader"], message: "is required with signatureSecret" });
    }
  });

/** The validated HTTP source config. */
export type HttpSourceConfig = z.output<typeof schema>;

/** Config schema of the HTTP source. */
export const httpSourceConfig: ConfigSchema = schema;

/** The HTTP (webhook) source: each POST becomes a record, answered 2xx once Pulsar stored it. */
export const httpSource: SourceDefinition = defineSource({
  name: "http",
  description: "Receives HTTP POST requests (webhooks); each body becomes a record, answered once Pulsar stored it",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).HttpSource.open(config, context),
});
