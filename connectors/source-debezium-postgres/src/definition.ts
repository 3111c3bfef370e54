import { type ConfigSchema, compatOnly, defineSource, type SourceDefinition, sensitive, z } from "@pulsar-connect/core";
import { splitList } from "./internal/lists.ts";

const count = (min: number) => z.coerce.number().int().min(min);
const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((value) => value === "true")]);

const NOT_A_CONVERTER =
  "Kafka Connect converter classes cannot run here: keys and values are written as JSON (the JsonConverter's shape, without the schema envelope)";

/** A comma-separated list of regular expressions, each matching a whole name. */
const regexList = z
  .string()
  .optional()
  .superRefine((value, ctx) => {
    for (const pattern of splitList(value)) {
      try {
        new RegExp(pattern);
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(pattern)} is not a regular expression: ${(error as Error).message}`,
        });
      }
    }
  });

const OPERATIONS = ["c", "u", "d", "t", "none"] as const;

/** Config of the PostgreSQL change-data-capture source, with Debezium's field names and defaults. */
const schema = z
  .strictObject({
    "database.hostname": z.string().min(1, "must name the PostgreSQL host").describe("PostgreSQL host"),
    "database.port": count(1).max(65_535).default(5432).describe("PostgreSQL port"),
    "database.user": z
      .string()
      .min(1, "must name a user with the REPLICATION attribute")
      .describe("User to connect as; needs REPLICATION (and the rights to create the publication, or an existing one)"),
    "database.password": sensitive(z.string().default("")).describe("Password of database.user"),
    "database.dbname": z.string().min(1, "must name the database to capture").describe("Database to capture"),
    "database.sslmode": z
      .enum(["disable", "require", "verify-ca", "verify-full"])
      .default("disable")
      .describe("TLS to the server: disable, require (encrypted, not verified), verify-ca or verify-full"),
    "topic.prefix": z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "may hold letters, digits, '_', '.' and '-' only")
      .optional()
      .describe("Prefix of every topic name: changes of schema.table go to <topic.prefix>.<schema>.<table>"),
    "database.server.name": z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "may hold letters, digits, '_', '.' and '-' only")
      .optional()
      .describe("Older name of topic.prefix (Debezium 1.x); topic.prefix wins when both are set"),
    "plugin.name": z
      .literal("pgoutput", {
        error: "must be pgoutput: the decoder built into PostgreSQL 10+ is the only one supported",
      })
      .default("pgoutput")
      .describe("Logical decoding output plugin (pgoutput)"),
    "slot.name": z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, "must be 1-63 lower-case letters, digits or '_' (PostgreSQL's rule for slot names)")
      .default("debezium")
      .describe("Logical replication slot, created when missing"),
    "slot.drop.on.stop": flag
      .default(false)
      .describe("Drop the slot when the connector stops (the next start then takes a new snapshot); for tests"),
    "publication.name": z.string().min(1).default("dbz_publication").describe("Publication the slot streams"),
    "publication.autocreate.mode": z
      .enum(["all_tables", "disabled", "filtered"])
      .default("all_tables")
      .describe(
        "all_tables: create the publication FOR ALL TABLES; filtered: for the tables the include/exclude lists select; disabled: it must exist",
      ),
    "schema.include.list": regexList.describe("Schemas to capture (comma-separated regular expressions)"),
    "schema.exclude.list": regexList.describe("Schemas not to capture"),
    "table.include.list": regexList.describe("Tables to capture, as schema.table regular expressions"),
    "table.exclude.list": regexList.describe("Tables not to capture, as schema.table regular expressions"),
    "snapshot.mode": z
      .enum(["initial", "initial_only", "no_data", "never"])
      .default("initial")
      .describe(
        "initial: snapshot once, then stream; initial_only: snapshot, then stop; no_data (or never): stream only",
      ),
    "snapshot.fetch.size": count(1).default(10_240).describe("Rows fetched per round trip while snapshotting"),
    "heartbeat.interval.ms": count(0)
      .default(0)
      .describe("Send a heartbeat record (and confirm the idle WAL position) this often; 0 = off"),
    "heartbeat.action.query": z
      .string()
      .optional()
      .describe("SQL run at each heartbeat (e.g. an UPDATE of a heartbeat table, so an idle database produces WAL)"),
    "topic.heartbeat.prefix": z
      .string()
      .default("__debezium-heartbeat")
      .describe("Heartbeat records go to <topic.heartbeat.prefix>.<topic.prefix>"),
    "status.update.interval.ms": count(1)
      .default(10_000)
      .describe("How often the confirmed WAL position (everything Pulsar acknowledged) is reported to the server"),
    "max.queue.size": count(1).default(8192).describe("Change records held ahead of Pulsar; reading pauses above it"),
    "poll.interval.ms": count(1).default(500).describe("How long a read waits for changes before answering empty"),
    "decimal.handling.mode": z
      .enum(["precise", "double", "string"])
      .default("precise")
      .describe("numeric/decimal: precise (base64 unscaled bytes, as Debezium), double or string"),
    "time.precision.mode": z
      .enum(["adaptive", "adaptive_time_microseconds", "connect"])
      .default("adaptive")
      .describe("Time and timestamp encoding (Debezium's modes)"),
    "binary.handling.mode": z
      .enum(["bytes", "base64", "base64-url-safe", "hex"])
      .default("bytes")
      .describe("bytea encoding; bytes and base64 both give base64 text in JSON"),
    "skipped.operations": z
      .string()
      .default("t")
      .superRefine((value, ctx) => {
        for (const op of splitList(value)) {
          if (!(OPERATIONS as readonly string[]).includes(op)) {
            ctx.addIssue({ code: "custom", message: `${JSON.stringify(op)} is not one of ${OPERATIONS.join(", ")}` });
          }
        }
      })
      .describe("Operations not sent: comma-separated c, u, d, t, or none (truncates are skipped by default)"),
    "unavailable.value.placeholder": z
      .string()
      .default("__debezium_unavailable_value")
      .describe("Stands for a TOASTed column that an update did not change (PostgreSQL does not send it)"),
    "tombstones.on.delete": compatOnly(
      flag.default(true),
      "no tombstone (null-value) record follows a delete: a Pulsar message always has a value; topic compaction keeps the delete event",
    ).describe("Upstream: a tombstone after each delete"),
    "key.converter": compatOnly(z.string().optional(), NOT_A_CONVERTER).describe(
      "Upstream Kafka Connect key converter",
    ),
    "value.converter": compatOnly(z.string().optional(), NOT_A_CONVERTER).describe(
      "Upstream Kafka Connect value converter",
    ),
    "offset.storage.topic": compatOnly(
      z.string().optional(),
      "the WAL position lives in the replication slot (confirmed only after Pulsar acknowledged) and the snapshot progress in the connector state",
    ).describe("Upstream offset topic"),
    "json-with-envelope": flag
      .default(false)
      .refine((value) => value === false, {
        message: "true is not supported: values are the Debezium change event itself, without the schema envelope",
      })
      .describe("Upstream: wrap each JSON value in {schema, payload}; only false is supported"),
  })
  .superRefine((config, ctx) => {
    if (!config["topic.prefix"] && !config["database.server.name"]) {
      ctx.addIssue({
        code: "custom",
        path: ["topic.prefix"],
        message: "is required (the first part of every topic name)",
      });
    }
    if (config["heartbeat.action.query"] && config["heartbeat.interval.ms"] === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["heartbeat.action.query"],
        message: "runs at each heartbeat, and heartbeat.interval.ms is 0 (off): set an interval",
      });
    }
  });

/** The validated config (Debezium's field names). */
export type PostgresCdcConfig = z.output<typeof schema>;

/** Config schema of the PostgreSQL change-data-capture source. */
export const postgresCdcConfig: ConfigSchema = schema;

/** The PostgreSQL change-data-capture source (upstream name `debezium-postgres`). */
export const postgresCdcSource: SourceDefinition = defineSource({
  name: "debezium-postgres",
  description: "Streams PostgreSQL row changes (logical replication, pgoutput) into Pulsar as Debezium change events",
  config: schema,
  // The implementation (and its client library) loads with the first instance, not with discovery.
  open: async (config, context) => (await import("./internal/source.ts")).PostgresCdcSource.open(config, context),
});
