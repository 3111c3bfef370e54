import { compatWarnings, loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { lastPositionOf, objectName, topicFolder } from "./internal/object-key.ts";
import { formatTime, parseDuration, parseTimePattern } from "./internal/time-pattern.ts";

const base = { provider: "aws-s3", bucket: "b", region: "eu-west-1" };

function issuePaths(configs: Record<string, unknown>): string[] {
  const result = parseConfig(definition.config, configs);
  return result.ok ? [] : result.issues.map((issue) => issue.path).sort();
}

describe("cloud-storage config", () => {
  it("takes upstream's field names and defaults", () => {
    const config = loadConfig(definition.config, base) as Record<string, unknown>;
    expect(config).toMatchObject({
      formatType: "json",
      partitionerType: "partition",
      batchSize: 10,
      batchTimeMs: 1000,
      maxBatchBytes: 10_000_000,
      usePathStyleUrl: true,
      withTopicPartitionNumber: true,
      avroCodec: "snappy",
      parquetCodec: "gzip",
      timePartitionPattern: "yyyy-MM-dd",
    });
    expect(loadConfig(definition.config, { ...base, formatType: "PARQUET", avroCodec: "none" })).toMatchObject({
      formatType: "parquet",
      avroCodec: "null",
    });
  });

  it("refuses values it cannot honour, naming the field", () => {
    expect(issuePaths({ ...base, provider: "azure-blob-storage" })).toEqual(["configs.provider"]);
    expect(issuePaths({ provider: "aws-s3", bucket: "b" })).toEqual(["configs.region"]);
    expect(issuePaths({ ...base, endpoint: "localhost:9000" })).toEqual(["configs.endpoint"]);
    expect(issuePaths({ ...base, pathPrefix: "/a/" })).toEqual(["configs.pathPrefix"]);
    expect(issuePaths({ ...base, pathPrefix: "a" })).toEqual(["configs.pathPrefix"]);
    expect(issuePaths({ ...base, timePartitionPattern: "yyyy-ww" })).toEqual(["configs.timePartitionPattern"]);
    expect(issuePaths({ ...base, avroCodec: "bzip2", parquetCodec: "lzo" })).toEqual([
      "configs.avroCodec",
      "configs.parquetCodec",
    ]);
    expect(issuePaths({ ...base, formatType: "avro", compression: "gzip" })).toEqual(["configs.compression"]);
    expect(issuePaths({ ...base, bytesFormatTypeSeparator: "\n" })).toEqual(["configs.bytesFormatTypeSeparator"]);
    expect(issuePaths({ ...base, role: "arn:aws:iam::1:role/x" })).toEqual(["configs.role"]);
    expect(issuePaths({ ...base, accessKeyId: "a" })).toEqual(["configs.secretAccessKey"]);
    expect(issuePaths({ ...base, partitionerUseIndexAsOffset: true })).toEqual(["configs.partitionerUseIndexAsOffset"]);
    expect(issuePaths({ ...base, formatType: "parquet", jsonAllowNaN: true })).toEqual(["configs.jsonAllowNaN"]);
  });

  it("redacts the secret and warns about fields without effect", () => {
    const config = loadConfig(definition.config, {
      ...base,
      accessKeyId: "a",
      secretAccessKey: "s",
      pendingQueueSize: 5,
    });
    expect((redactConfig(definition.config, config) as { secretAccessKey: string }).secretAccessKey).toBe(REDACTED);
    expect(compatWarnings(definition.config, { ...base, pendingQueueSize: 5 }).map((w) => w.field)).toEqual([
      "configs.pendingQueueSize",
    ]);
  });
});

describe("object keys", () => {
  const layout = { pathPrefix: "p/", withTopicName: true, withPartitionNumber: true, slicePartitionPath: false };

  it("puts a topic partition in its own folder and names objects by first and last position", () => {
    expect(topicFolder(layout, "persistent://t/n/orders-partition-3")).toBe("p/t/n/orders-partition-3/");
    expect(topicFolder({ ...layout, slicePartitionPath: true }, "persistent://t/n/orders-partition-3")).toBe(
      "p/t/n/orders/partition-3/",
    );
    expect(topicFolder({ ...layout, withPartitionNumber: false }, "persistent://t/n/orders-partition-3")).toBe(
      "p/t/n/orders/",
    );
    const name = objectName(
      { topic: "x", ledgerId: 12n, entryId: 3n, batchIndex: -1 },
      { topic: "x", ledgerId: 13n, entryId: 0n, batchIndex: 4 },
      ".json.gz",
    );
    expect(name).toBe("12.3_13.0.4.json.gz");
    expect(lastPositionOf(`p/t/n/orders/2026-01-01/${name}`)).toEqual({ ledgerId: 13n, entryId: 0n, batchIndex: 4 });
    expect(lastPositionOf("p/t/n/orders/notes.txt")).toBeUndefined();
  });

  it("formats time folders with the Java pattern letters, in UTC", () => {
    const at = Date.UTC(2026, 10, 29, 7, 5, 9, 42);
    expect(formatTime(parseTimePattern("yyyy-MM-dd'T'HH/mm:ss.SSS"), at)).toBe("2026-11-29T07/05:09.042");
    expect(formatTime(parseTimePattern("yy/M/d"), at)).toBe("26/11/29");
    expect(() => parseTimePattern("'open")).toThrow(/quote/);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("86400000")).toBe(86_400_000);
    expect(parseDuration("1w")).toBeUndefined();
  });
});
