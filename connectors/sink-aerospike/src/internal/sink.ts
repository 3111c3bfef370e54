import {
  ConnectorError,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
  writeEach,
} from "@pulsar-connect/core";
import Aerospike from "aerospike";
import type { AerospikeSinkConfig } from "../definition.ts";

const { status } = Aerospike;

/** Bin values the client writes: integers, doubles, strings, bytes, booleans, lists and maps. */
export type BinValue =
  | number
  | bigint
  | string
  | boolean
  | Buffer
  | InstanceType<typeof Aerospike.Double>
  | BinValue[]
  | { [key: string]: BinValue };

// Answers after which the same write may succeed: timeouts, connection trouble, cluster changes, hot keys, overload.
const TRANSIENT: ReadonlySet<number> = new Set([
  status.ERR_TIMEOUT,
  status.ERR_CONNECTION,
  status.ERR_CLUSTER,
  status.ERR_CLUSTER_CHANGE,
  status.ERR_DEVICE_OVERLOAD,
  status.ERR_RECORD_BUSY,
  status.ERR_NO_MORE_CONNECTIONS,
  status.ERR_ASYNC_CONNECTION,
  status.ERR_INVALID_NODE,
  status.ERR_SERVER,
]);

// Answers that the record itself cannot be stored as it is.
const RECORD_ERRORS: ReadonlySet<number> = new Set([
  status.ERR_BIN_NAME,
  status.ERR_RECORD_TOO_BIG,
  status.ERR_PARAM,
  status.ERR_REQUEST_INVALID,
  status.ERR_BIN_INCOMPATIBLE_TYPE,
]);

// Answers about the sink's credentials or roles: the same for every record, so never a per-record failure.
const AUTH_ERRORS: ReadonlySet<number> = new Set([
  status.INVALID_USER,
  status.INVALID_PASSWORD,
  status.EXPIRED_PASSWORD,
  status.INVALID_CREDENTIAL,
  status.NOT_AUTHENTICATED,
  status.ROLE_VIOLATION,
]);

/** An Aerospike client error as a ConnectorError with the right code and retryable flag. */
export function toWriteError(error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const code = (error as { code?: unknown })?.code;
  const message = `Aerospike write failed: ${(error as Error)?.message ?? String(error)}`;
  if (typeof code === "number" && AUTH_ERRORS.has(code)) {
    return new ConnectorError("AUTH_FAILED", message, { retryable: false, cause: error });
  }
  if (typeof code === "number" && RECORD_ERRORS.has(code)) {
    return new ConnectorError("INVALID_RECORD", message, { retryable: false, cause: error });
  }
  const retryable = typeof code === "number" && TRANSIENT.has(code);
  return new ConnectorError("WRITE_FAILED", message, { retryable, cause: error });
}

/** A JSON-ish value as a bin value; null and undefined give undefined (the bin is not written). */
export function toBinValue(value: unknown): BinValue | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "number") return Number.isInteger(value) ? value : new Aerospike.Double(value);
  if (typeof value === "string" || typeof value === "boolean" || typeof value === "bigint") return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map((item) => toBinValue(item) ?? null) as BinValue[];
  if (typeof value === "object") {
    const out: Record<string, BinValue> = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toBinValue(item);
      if (converted !== undefined) out[key] = converted;
    }
    return out;
  }
  return String(value);
}

const decoder = new TextDecoder();

/** The object of a structured record: decoded JSON/Avro, or JSON text in a string/bytes payload. */
function recordObject(record: SinkRecord): Record<string, unknown> {
  let value: unknown = record.value;
  if (typeof value === "string" || value instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof value === "string" ? value : decoder.decode(value));
    } catch (error) {
      throw new ConnectorError("INVALID_RECORD", "Record value is not a JSON object", {
        retryable: false,
        cause: error,
      });
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ConnectorError("INVALID_RECORD", "Record value is not an object with fields", { retryable: false });
  }
  return value as Record<string, unknown>;
}

/** Key and bins of the Aerospike record for a message, per the configured mode. */
export function toAerospikeRecord(
  record: SinkRecord,
  config: Pick<AerospikeSinkConfig, "mode"> & Partial<Pick<AerospikeSinkConfig, "columnName" | "keyField">>,
): { key: string; bins: Record<string, BinValue> } {
  if (config.mode === "string") {
    const text = typeof record.value === "string" ? record.value : decoder.decode(record.data);
    return { key: record.key ?? text, bins: { [config.columnName ?? ""]: text } };
  }
  const object = recordObject(record);
  const keyValue = record.key ?? (config.keyField ? object[config.keyField] : undefined);
  if (keyValue === undefined || keyValue === null || keyValue === "") {
    throw new ConnectorError(
      "INVALID_RECORD",
      config.keyField ? `Record has no key and no ${config.keyField} field` : "Record has no key (set keyField)",
      { retryable: false },
    );
  }
  const bins: Record<string, BinValue> = {};
  for (const [name, value] of Object.entries(object)) {
    if (Buffer.byteLength(name) > 15) {
      throw new ConnectorError("INVALID_RECORD", `Field ${name} is longer than a bin name may be (15 bytes)`, {
        retryable: false,
      });
    }
    const bin = toBinValue(value);
    if (bin !== undefined) bins[name] = bin;
  }
  if (Object.keys(bins).length === 0) {
    throw new ConnectorError("INVALID_RECORD", "Record has no field to write", { retryable: false });
  }
  return { key: String(keyValue), bins };
}

/**
 * Writes messages as Aerospike records through the `aerospike` client, one put at a time per write: the runtime runs
 * up to `maxConcurrentRequests` writes at once.
 */
export class AerospikeSink implements SinkInstance {
  private readonly config: AerospikeSinkConfig;
  private readonly client: Aerospike.Client;
  private readonly policy: InstanceType<typeof Aerospike.WritePolicy>;

  private constructor(config: AerospikeSinkConfig, client: Aerospike.Client) {
    this.config = config;
    this.client = client;
    this.policy = new Aerospike.WritePolicy({ totalTimeout: config.timeoutMs, maxRetries: config.retries });
  }

  static async open(config: AerospikeSinkConfig, _context: SinkContext): Promise<AerospikeSink> {
    const options: Aerospike.ConfigOptions = {
      hosts: config.seedHosts
        .split(",")
        .map((host) => host.trim())
        .filter((host) => host !== "")
        .join(","),
      maxConnsPerNode: Math.max(config.maxConcurrentRequests, 10),
      connTimeoutMs: 5000,
      // The native client logs to stderr by default; a library keeps quiet and reports through its errors.
      log: { level: Aerospike.log.OFF },
    };
    if (config.userName !== undefined && config.password !== undefined) {
      options.user = config.userName;
      options.password = config.password;
    }
    try {
      return new AerospikeSink(config, await Aerospike.connect(options));
    } catch (error) {
      throw new ConnectorError(
        "CONNECTION_FAILED",
        `Cannot connect to Aerospike at ${config.seedHosts}: ${(error as Error).message}`,
        { retryable: true, cause: error },
      );
    }
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    return writeEach(
      records,
      (record) => {
        const { key, bins } = toAerospikeRecord(record, this.config);
        const asKey = new Aerospike.Key(this.config.keyspace, this.config.keySet ?? null, key);
        return this.client.put(asKey, bins as Aerospike.AerospikeBins, undefined, this.policy);
      },
      toWriteError,
    );
  }

  async close(): Promise<void> {
    await this.client.close(false);
  }
}
