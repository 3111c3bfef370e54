import { compatOnly, sensitive, z } from "@pulsar-connect/core";

/** How a record is written when its `ACTION` property does not say otherwise. */
export type InsertMode = "INSERT" | "UPSERT" | "UPDATE";
/** What a record with a null (or empty) value does. */
export type NullValueAction = "FAIL" | "DELETE";
/** The statement a record turns into. */
export type Mutation = "INSERT" | "UPSERT" | "UPDATE" | "DELETE";

/** Config of a JDBC sink, with the upstream `JdbcSinkConfig` field names and defaults. */
export interface JdbcSinkConfig {
  jdbcUrl: string;
  userName: string;
  password: string;
  tableName: string;
  key: string;
  nonKey: string;
  excludeNonDeclaredFields: boolean;
  timeoutMs: number;
  batchSize: number;
  useTransactions: boolean;
  useJdbcBatch: boolean;
  insertMode: InsertMode;
  nullValueAction: NullValueAction;
  maxQueueSize: number;
}

/** The zod schema type of a JDBC sink config (spelled out so that declarations need no inference). */
export type JdbcSinkConfigSchema = z.ZodObject<
  {
    jdbcUrl: z.ZodString;
    userName: z.ZodDefault<z.ZodString>;
    password: z.ZodDefault<z.ZodString>;
    tableName: z.ZodString;
    key: z.ZodDefault<z.ZodString>;
    nonKey: z.ZodDefault<z.ZodString>;
    excludeNonDeclaredFields: z.ZodDefault<z.ZodBoolean>;
    timeoutMs: z.ZodDefault<z.ZodNumber>;
    batchSize: z.ZodDefault<z.ZodNumber>;
    useTransactions: z.ZodDefault<z.ZodBoolean>;
    useJdbcBatch: z.ZodDefault<z.ZodBoolean>;
    insertMode: z.ZodDefault<z.ZodEnum<{ INSERT: "INSERT"; UPSERT: "UPSERT"; UPDATE: "UPDATE" }>>;
    nullValueAction: z.ZodDefault<z.ZodEnum<{ FAIL: "FAIL"; DELETE: "DELETE" }>>;
    maxQueueSize: z.ZodDefault<z.ZodNumber>;
  },
  z.core.$strip
>;

/** Options of {@link jdbcSinkConfigSchema}. */
export interface JdbcSinkConfigOptions {
  /** Example URL shown in the `jdbcUrl` help text. */
  urlExample: string;
  /** Checks a `jdbcUrl`; returns a message saying what is wrong, or undefined when the URL is usable. */
  checkUrl(url: string): string | undefined;
}

/** Splits a comma list (`"id, tenant"`) into trimmed, non-empty names. */
export function splitColumnList(list: string): string[] {
  return list
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
}

/**
 * The config schema of a JDBC sink: upstream fields and defaults, plus the upstream cross-field rules
 * (`timeoutMs` and `batchSize` not both <= 0). The dialect checks the URL.
 */
export function jdbcSinkConfigSchema(options: JdbcSinkConfigOptions): JdbcSinkConfigSchema {
  const integer = () => z.number().int();
  return z
    .object({
      jdbcUrl: z
        .string()
        .min(1, "must not be empty")
        .describe(`The database URL, upstream JDBC form or the driver's own, e.g. ${options.urlExample}`),
      userName: z.string().default("").describe("The user name to connect with"),
      password: sensitive(z.string().default("")).describe("The password to connect with"),
      tableName: z.string().min(1, "must not be empty").describe("The table to write to (optionally schema.table)"),
      key: z
        .string()
        .default("")
        .describe(
          "Comma-separated key columns: WHERE columns of UPDATE and DELETE, conflict target of UPSERT (default: the table's primary key)",
        ),
      nonKey: z
        .string()
        .default("")
        .describe(
          "Comma-separated columns set by UPDATE and UPSERT (default: every non-key column present in the record)",
        ),
      excludeNonDeclaredFields: z
        .boolean()
        .default(false)
        .describe(
          "Write only the key and nonKey columns and ignore other fields (otherwise an unknown field fails the record)",
        ),
      timeoutMs: compatOnly(
        integer().default(500),
        "batches are formed by the runtime (one write per batch), so there is no flush interval; it only takes part in validation",
      ).describe("Upstream flush interval (ms)"),
      batchSize: integer()
        .default(200)
        .describe(
          "Rows per multi-row statement (<= 0: as many as the driver's parameter limit allows) for UPDATE and DELETE, and for INSERT and UPSERT rows narrowed down after a refusal; a batch's inserts and upserts go in bulk (PostgreSQL binary COPY, MariaDB statements of up to 4 MB, SQLite one prepared insert per row)",
        ),
      useTransactions: z
        .boolean()
        .default(true)
        .describe("Write each batch and its Pulsar positions in one transaction (required for EFFECTIVELY_ONCE)"),
      useJdbcBatch: compatOnly(
        z.boolean().default(false),
        "batches are always written as multi-row statements, which is what JDBC batching is for",
      ).describe("Upstream JDBC batch switch"),
      insertMode: z
        .enum(["INSERT", "UPSERT", "UPDATE"])
        .default("INSERT")
        .describe("Statement for records without an ACTION property: INSERT, UPSERT or UPDATE"),
      nullValueAction: z
        .enum(["FAIL", "DELETE"])
        .default("FAIL")
        .describe("What a record with a null or empty value does: FAIL (dead-letter it) or DELETE (delete by key)"),
      maxQueueSize: integer()
        .min(-1, "must be -1 (unbounded), 0 (10 x batchSize) or a positive bound")
        .default(-1)
        .describe(
          "Most records written in one transaction; larger batches are split (-1 unbounded, 0 = 10 x batchSize)",
        ),
    })
    .superRefine((config, issues) => {
      const problem = options.checkUrl(config.jdbcUrl);
      if (problem !== undefined) issues.addIssue({ code: "custom", path: ["jdbcUrl"], message: problem });
      if (config.timeoutMs <= 0 && config.batchSize <= 0) {
        issues.addIssue({
          code: "custom",
          path: ["batchSize"],
          message: "timeoutMs and batchSize cannot both be <= 0",
        });
      }
    });
}

/** Records written per transaction, from `maxQueueSize` and `batchSize` as upstream resolves them. */
export function transactionSize(config: Pick<JdbcSinkConfig, "maxQueueSize" | "batchSize">): number {
  if (config.maxQueueSize > 0) return config.maxQueueSize;
  if (config.maxQueueSize === 0) return config.batchSize > 0 ? 10 * config.batchSize : 10_000;
  return Number.POSITIVE_INFINITY;
}
