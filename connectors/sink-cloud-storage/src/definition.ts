import type { ObjectCannedACL } from "@aws-sdk/client-s3";
import {
  type ConfigSchema,
  ConnectorError,
  compatOnly,
  defineSink,
  type SinkDefinition,
  sensitive,
  z,
} from "@pulsar-connect/core";
import { type ObjectCompression, zstdUnavailable } from "./internal/codecs.ts";
import type { AvroCodec } from "./internal/formats/avro.ts";
import { bytesFormat, parseSeparator } from "./internal/formats/bytes.ts";
import type { MetadataOptions, ObjectFormat } from "./internal/formats/format.ts";
import { jsonFormat } from "./internal/formats/json.ts";
import type { ParquetCodec } from "./internal/formats/parquet.ts";
import type { Partitioning } from "./internal/objects.ts";
import { parseDuration, parseTimePattern } from "./internal/time-pattern.ts";

const CANNED_ACLS = [
  "private",
  "public-read",
  "public-read-write",
  "authenticated-read",
  "aws-exec-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
] as const;

const S3_PROVIDERS = ["aws-s3", "s3v2"];
const OTHER_PROVIDERS = ["google-cloud-storage", "azure-blob-storage"];

const caseless = <T extends string>(values: readonly [T, ...T[]]) =>
  z.preprocess((value) => (typeof value === "string" ? value.toLowerCase() : value), z.enum(values));

const positiveInt = z.number().int().positive();

const schema = z
  .object({
    provider: z
      .string()
      .superRefine((value, ctx) => {
        const provider = value.toLowerCase();
        if (S3_PROVIDERS.includes(provider)) return;
        ctx.addIssue({
          code: "custom",
          message: OTHER_PROVIDERS.includes(provider)
            ? `${value} is not supported; use aws-s3 with the provider's S3-compatible endpoint`
            : `must be ${S3_PROVIDERS.join(" or ")}`,
        });
      })
      .describe(`Storage API: ${S3_PROVIDERS.join(" or ")} (both the S3 API through the AWS SDK v3)`),
    bucket: z.string().min(1, "must not be empty").describe("Bucket the objects are written to (it must exist)"),
    region: z.string().optional().describe("Region of the bucket; us-east-1 when only an endpoint is given"),
    endpoint: z
      .string()
      .optional()
      .describe("S3 API endpoint URL with its scheme, for S3-compatible servers (MinIO, Ceph, S3Proxy, GCS interop)"),
    usePathStyleUrl: z
      .boolean()
      .default(true)
      .describe("Address buckets as endpoint/bucket rather than bucket.endpoint"),
    accessKeyId: sensitive(z.string().optional()).describe(
      "Access key id; without it the AWS SDK's default credential chain is used",
    ),
    secretAccessKey: sensitive(z.string().optional()).describe("Secret access key (with accessKeyId)"),
    role: z.string().optional().describe("Not supported: assume a role through the default credential chain instead"),
    roleSessionName: z.string().optional().describe("Not supported (see role)"),
    awsCannedAcl: z
      .union([z.literal(""), z.enum(CANNED_ACLS)])
      .default("")
      .describe(`Canned ACL of every object: ${CANNED_ACLS.join(", ")}; empty for the bucket's default`),
    skipFailedMessages: z
      .boolean()
      .default(false)
      .describe("Skip (and acknowledge) records the format cannot hold instead of failing them"),
    partitionerType: caseless(["partition", "time", "default"])
      .default("partition")
      .describe("partition (default): a folder per topic partition; time: also a folder per time slot"),
    pathPrefix: z
      .string()
      .default("")
      .refine((value) => value === "" || (!value.startsWith("/") && value.endsWith("/")), {
        message: "must not start with '/' and must end with '/' (like 'xx/xxx/')",
      })
      .describe("Prefix of every object key"),
    withTopicPartitionNumber: z
      .boolean()
      .default(true)
      .describe("Keep the partitions of a partitioned topic in folders of their own"),
    partitionerWithTopicName: z.boolean().default(true).describe("Put tenant/namespace/topic/ in the object keys"),
    partitionerUseIndexAsOffset: z
      .boolean()
      .default(false)
      .refine((value) => !value, { message: "is not supported: objects are named by their Pulsar positions" })
      .describe("Not supported: objects are named by ledger and entry ids"),
    timePartitionPattern: z
      .string()
      .default("yyyy-MM-dd")
      .superRefine((value, ctx) => {
        try {
          parseTimePattern(value);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
        }
      })
      .describe("Folder name of a time slot (Java DateTimeFormatter letters yyyy MM dd HH mm ss SSS, UTC)"),
    timePartitionDuration: z
      .preprocess((value) => (typeof value === "number" ? String(value) : value), z.string())
      .default("1d")
      .refine((value) => parseDuration(String(value)) !== undefined, {
        message: "must be a whole number with d, h, m or s, or milliseconds (30d, 24h, 30m, 10s, 86400000)",
      })
      .describe("Length of a time slot"),
    sliceTopicPartitionPath: z.boolean().default(false).describe("topic/partition-N/ rather than topic-partition-N/"),
    formatType: caseless(["json", "avro", "parquet", "bytes"])
      .default("json")
      .describe("json (JSON lines, the default), avro, parquet or bytes"),
    avroCodec: z
      .preprocess(
        (value) => (value === "" || value === "none" || value === null ? "null" : value),
        z.enum(["null", "deflate", "snappy", "zstandard"]),
      )
      .default("snappy")
      .describe("Avro block codec: none, deflate, snappy (default), zstandard"),
    parquetCodec: z
      .preprocess(
        (value) => (value === "" || value === null ? "none" : value),
        z.enum(["none", "snappy", "gzip", "zstd", "brotli"]),
      )
      .default("gzip")
      .describe("Parquet page codec: none, snappy, gzip (default), zstd, brotli"),
    compression: z
      .enum(["none", "gzip", "zstd"])
      .default("none")
      .describe("Compression of whole json and bytes objects (.gz, .zst); avro and parquet use their own codecs"),
    bytesFormatTypeSeparator: z
      .string()
      .default("0x10")
      .refine((value) => parseSeparator(value) !== undefined, { message: "must be hex starting with 0x, like 0x0a" })
      .describe("Bytes between records of the bytes format, as hex"),
    jsonAllowNaN: z
      .boolean()
      .default(false)
      .describe("Write NaN and Infinity as bare tokens in json (else such records fail)"),
    maxBatchBytes: positiveInt.default(10_000_000).describe("Payload bytes after which an object is closed"),
    batchSize: positiveInt.default(10).describe("Records after which an object is closed"),
    batchTimeMs: positiveInt.default(1000).describe("Longest wait for a full object after its first record, in ms"),
    batchModel: compatOnly(
      caseless(["blend", "partitioned"]).optional(),
      "the limits apply to the records of all input topics together (one object per topic partition in each batch)",
    ).describe("Upstream batching model"),
    pendingQueueSize: compatOnly(
      z.number().int().optional(),
      "deprecated upstream; the runtime bounds its own queue",
    ).describe("Deprecated upstream"),
    partitioner: compatOnly(z.string().optional(), "deprecated upstream; use partitionerType").describe(
      "Deprecated upstream",
    ),
    withMetadata: z
      .boolean()
      .default(false)
      .describe("Add the Pulsar metadata to each record as the `__message_metadata__` field"),
    useHumanReadableMessageId: z
      .boolean()
      .default(false)
      .describe("Message id in the metadata as ledgerId:entryId:partitionIndex:batchIndex rather than hex"),
    useHumanReadableSchemaVersion: compatOnly(
      z.boolean().optional(),
      "the schema version is not part of the metadata written here",
    ).describe("Upstream schema version format in the metadata"),
    includeTopicToMetadata: z.boolean().default(false).describe("Add the topic to the metadata"),
    includePublishTimeToMetadata: z.boolean().default(false).describe("Add the publish time to the metadata"),
    includeMessageKeyToMetadata: z.boolean().default(false).describe("Add the message key to the metadata"),
    gcsServiceAccountKeyFilePath: compatOnly(z.string().optional(), "only S3-compatible storage is written").describe(
      "Google Cloud Storage only",
    ),
    gcsServiceAccountKeyFileContent: compatOnly(
      z.string().optional(),
      "only S3-compatible storage is written",
    ).describe("Google Cloud Storage only"),
    azureStorageAccountConnectionString: compatOnly(
      z.string().optional(),
      "only S3-compatible storage is written",
    ).describe("Azure Blob Storage only"),
  })
  .superRefine((config, ctx) => {
    if (!config.region && !config.endpoint) {
      ctx.addIssue({ code: "custom", path: ["region"], message: "either region or endpoint must be set" });
    }
    if (config.endpoint && !/^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(config.endpoint)) {
      ctx.addIssue({
        code: "custom",
        path: ["endpoint"],
        message: "must be a URL with its scheme, like https://host:port",
      });
    }
    if (config.role && config.role !== "none") {
      ctx.addIssue({
        code: "custom",
        path: ["role"],
        message: "is not supported; let the AWS SDK's default credential chain assume the role (AWS_ROLE_ARN)",
      });
    }
    if (Boolean(config.accessKeyId) !== Boolean(config.secretAccessKey)) {
      ctx.addIssue({
        code: "custom",
        path: ["secretAccessKey"],
        message: "accessKeyId and secretAccessKey go together",
      });
    }
    const zstdNeeded =
      config.compression === "zstd" ||
      (config.formatType === "avro" && config.avroCodec === "zstandard") ||
      (config.formatType === "parquet" && config.parquetCodec === "zstd");
    const missing = zstdUnavailable();
    if (zstdNeeded && missing) {
      const path =
        config.compression === "zstd" ? "compression" : config.formatType === "avro" ? "avroCodec" : "parquetCodec";
      ctx.addIssue({ code: "custom", path: [path], message: missing });
    }
    if (config.compression !== "none" && (config.formatType === "avro" || config.formatType === "parquet")) {
      ctx.addIssue({
        code: "custom",
        path: ["compression"],
        message: `applies to json and bytes; ${config.formatType} files use ${config.formatType}Codec`,
      });
    }
    if (config.jsonAllowNaN && config.formatType !== "json") {
      ctx.addIssue({ code: "custom", path: ["jsonAllowNaN"], message: "can only be true when formatType is json" });
    }
  });

/** Config schema of the cloud-storage sink. */
export const cloudStorageSinkConfig: ConfigSchema = schema;

type Config = z.output<typeof schema>;

const CONTENT_TYPES: Record<Config["formatType"], string> = {
  json: "application/x-ndjson",
  avro: "application/avro",
  parquet: "application/vnd.apache.parquet",
  bytes: "application/octet-stream",
};

/** The format of the output files; Avro and Parquet load their libraries only when chosen. */
async function formatOf(config: Config): Promise<ObjectFormat<unknown>> {
  const metadata: MetadataOptions = {
    withMetadata: config.withMetadata,
    useHumanReadableMessageId: config.useHumanReadableMessageId,
    includeTopicToMetadata: config.includeTopicToMetadata,
    includePublishTimeToMetadata: config.includePublishTimeToMetadata,
    includeMessageKeyToMetadata: config.includeMessageKeyToMetadata,
  };
  const compression = config.compression as ObjectCompression;
  switch (config.formatType) {
    case "avro":
      return (await import("./internal/formats/avro.ts")).avroFormat({
        ...metadata,
        codec: config.avroCodec as AvroCodec,
      }) as ObjectFormat<unknown>;
    case "parquet":
      return (await import("./internal/formats/parquet.ts")).parquetFormat({
        ...metadata,
        codec: config.parquetCodec as ParquetCodec,
      }) as ObjectFormat<unknown>;
    case "bytes":
      return bytesFormat({
        separator: parseSeparator(config.bytesFormatTypeSeparator) as Uint8Array,
        compression,
      }) as ObjectFormat<unknown>;
    default:
      return jsonFormat({ ...metadata, jsonAllowNaN: config.jsonAllowNaN, compression }) as ObjectFormat<unknown>;
  }
}

function partitioningOf(config: Config): Partitioning {
  if (config.partitionerType !== "time") return { type: "partition" };
  return {
    type: "time",
    pattern: parseTimePattern(config.timePartitionPattern),
    durationMs: parseDuration(String(config.timePartitionDuration)) as number,
  };
}

/** The cloud-storage sink: topics to objects in an S3-compatible bucket, named by their Pulsar positions. */
export const cloudStorageSink: SinkDefinition = defineSink({
  name: "cloud-storage",
  description: "Writes topics to S3-compatible object storage as JSON lines, Avro, Parquet or raw bytes",
  config: schema,
  storesPositions: true,
  async open(config, context) {
    if (context.processingGuarantee === "EFFECTIVELY_ONCE") {
      const wrong = !config.partitionerWithTopicName
        ? "partitionerWithTopicName"
        : !config.withTopicPartitionNumber
          ? "withTopicPartitionNumber"
          : context.inputTopics.length === 0
            ? "inputs"
            : undefined;
      if (wrong) {
        throw new ConnectorError(
          "INVALID_CONFIG",
          `EFFECTIVELY_ONCE finds where to resume in the object keys: it needs ${wrong === "inputs" ? "named input topics (no topics pattern)" : `${wrong}=true`}`,
          {
            retryable: false,
            issues: [
              { path: wrong === "inputs" ? "inputs" : `configs.${wrong}`, message: "required by EFFECTIVELY_ONCE" },
            ],
          },
        );
      }
    }
    // The S3 client and the sink load with the first instance, not with discovery.
    const [{ ObjectStore }, { CloudStorageSink }] = await Promise.all([
      import("./internal/store.ts"),
      import("./internal/sink.ts"),
    ]);
    const store = new ObjectStore({
      bucket: config.bucket,
      region: config.region,
      endpoint: config.endpoint,
      usePathStyleUrl: config.usePathStyleUrl,
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      awsCannedAcl: config.awsCannedAcl === "" ? undefined : (config.awsCannedAcl as ObjectCannedACL),
    });
    try {
      await store.check();
    } catch (error) {
      store.close();
      throw error;
    }
    return new CloudStorageSink(
      store,
      await formatOf(config),
      {
        layout: {
          pathPrefix: config.pathPrefix,
          withTopicName: config.partitionerWithTopicName,
          withPartitionNumber: config.withTopicPartitionNumber,
          slicePartitionPath: config.sliceTopicPartitionPath,
        },
        partitioning: partitioningOf(config),
        limits: { maxRecords: config.batchSize, maxBytes: config.maxBatchBytes },
        batchTimeMs: config.batchTimeMs,
        skipFailedMessages: config.skipFailedMessages,
        contentType: CONTENT_TYPES[config.formatType],
      },
      context,
    );
  },
});
