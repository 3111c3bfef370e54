import { ConnectorError, type SinkInstance, type SinkRecord, type WriteOutcome, writeEach } from "@pulsar-connect/core";
import cassandra from "cassandra-driver";
import type { CassandraSinkConfig } from "../definition.ts";
import { type Column, insertStatement, type Row, recordObject, structuredRow, valueText } from "./rows.ts";

const { Client, auth, errors, types } = cassandra;
const codes = types.responseErrorCodes;

// Server answers after which the same write may succeed (node down, overload, timeouts, restarts).
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  codes.serverError,
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.truncateError,
  codes.writeTimeout,
  codes.readTimeout,
  codes.writeFailure,
]);

/** Whether a driver error is worth retrying. */
export function isTransient(error: unknown): boolean {
  if (error instanceof errors.NoHostAvailableError) return true;
  if (error instanceof errors.OperationTimedOutError) return true;
  if (error instanceof errors.BusyConnectionError) return true;
  if (error instanceof errors.ResponseError) return TRANSIENT_CODES.has(error.code);
  return (error as { code?: unknown })?.code === "ECONNRESET";
}

/** A driver error as a ConnectorError with the right code and retryable flag. */
export function toWriteError(error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = (error as Error)?.message ?? String(error);
  if (isTransient(error)) {
    return new ConnectorError("WRITE_FAILED", `Cassandra write failed: ${message}`, { retryable: true, cause: error });
  }
  if (error instanceof TypeError) {
    return new ConnectorError("INVALID_RECORD", `Record does not fit the table: ${message}`, {
      retryable: false,
      cause: error,
    });
  }
  if (error instanceof errors.ResponseError && error.code === codes.unauthorized) {
    return new ConnectorError("AUTH_FAILED", `Cassandra refused the write: ${message}`, { cause: error });
  }
  return new ConnectorError("WRITE_FAILED", `Cassandra write failed: ${message}`, { retryable: false, cause: error });
}

/** Contact points from `roots` (host[:port] list). */
export function contactPoints(roots: string): string[] {
  return roots
    .split(",")
    .map((root) => root.trim())
    .filter((root) => root !== "")
    .map((root) => (/:\d+$/.test(root) ? root : `${root}:9042`));
}

/**
 * Writes records to one Cassandra table through prepared INSERTs, one at a time per write: the runtime runs up to
 * `maxConcurrentRequests` writes at once and retries the transient failures.
 */
export class CassandraSink implements SinkInstance {
  private readonly config: CassandraSinkConfig;
  private readonly client: InstanceType<typeof Client>;
  private readonly keyspace: string;
  private readonly table: string;
  private columns: Column[] = [];
  private closed = false;

  private constructor(config: CassandraSinkConfig) {
    this.config = config;
    this.keyspace = config.keyspace.toLowerCase();
    this.table = config.columnFamily.toLowerCase();
    const options: ConstructorParameters<typeof Client>[0] = {
      contactPoints: contactPoints(config.roots),
      localDataCenter: config.localDc,
      keyspace: this.keyspace,
      encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
      socketOptions: { readTimeout: config.requestTimeoutMs, connectTimeout: 5000 },
      queryOptions: {
        consistency: types.consistencies[camel(config.consistencyLevel)],
        prepare: true,
        isIdempotent: true,
      },
      pooling: { maxRequestsPerConnection: Math.max(2048, config.maxConcurrentRequests) },
    };
    if (config.userName !== undefined && config.password !== undefined) {
      options.authProvider = new auth.PlainTextAuthProvider(config.userName, config.password);
    }
    this.client = new Client(options);
  }

  static async open(config: CassandraSinkConfig): Promise<CassandraSink> {
    const sink = new CassandraSink(config);
    try {
      await sink.client.connect();
      await sink.loadColumns();
    } catch (error) {
      await sink.client.shutdown().catch(() => undefined);
      throw openError(error, config);
    }
    return sink;
  }

  private async loadColumns(): Promise<void> {
    const table = await this.client.metadata.getTable(this.keyspace, this.table);
    if (!table) {
      throw new ConnectorError("NOT_FOUND", `Table ${this.keyspace}.${this.table} does not exist`, {
        retryable: false,
        issues: [{ path: "configs.columnFamily", message: `table ${this.keyspace}.${this.table} does not exist` }],
      });
    }
    const keys = new Set([...table.partitionKeys, ...table.clusteringKeys].map((column) => column.name));
    this.columns = table.columns.map((column) => ({
      name: column.name,
      code: column.type.code,
      key: keys.has(column.name),
    }));
    if (this.config.mode === "string") {
      for (const field of ["keyname", "columnName"] as const) {
        const name = this.config[field]?.toLowerCase();
        if (!this.columns.some((column) => column.name === name)) {
          throw new ConnectorError(
            "INVALID_CONFIG",
            `Column ${name} does not exist in ${this.keyspace}.${this.table}`,
            {
              issues: [{ path: `configs.${field}`, message: `column ${name} does not exist` }],
            },
          );
        }
      }
    }
  }

  /** The row for a record, per the configured mode. */
  private row(record: SinkRecord): Row {
    if (this.config.mode === "structured") return structuredRow(recordObject(record), this.columns);
    const value = valueText(record);
    return {
      columns: [this.config.keyname?.toLowerCase() ?? "", this.config.columnName?.toLowerCase() ?? ""],
      values: [record.key ?? value, value],
    };
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    if (this.closed) throw new ConnectorError("CLOSED", "Cassandra sink is closed", { retryable: false });
    return writeEach(
      records,
      (record) => {
        const row = this.row(record);
        return this.client.execute(insertStatement(this.keyspace, this.table, row.columns), row.values);
      },
      toWriteError,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.shutdown();
  }
}

function camel(level: string): keyof typeof types.consistencies {
  return level
    .toLowerCase()
    .replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()) as keyof typeof types.consistencies;
}

function openError(error: unknown, config: CassandraSinkConfig): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof errors.AuthenticationError) {
    return new ConnectorError("AUTH_FAILED", `Cassandra authentication failed: ${message}`, { cause: error });
  }
  if (error instanceof errors.ResponseError && error.code === codes.invalid && /keyspace/i.test(message)) {
    return new ConnectorError("NOT_FOUND", `Keyspace ${config.keyspace} does not exist`, {
      retryable: false,
      cause: error,
      issues: [{ path: "configs.keyspace", message: "keyspace does not exist" }],
    });
  }
  return new ConnectorError("CONNECTION_FAILED", `Cannot connect to Cassandra at ${config.roots}: ${message}`, {
    retryable: isTransient(error) || !(error instanceof errors.ResponseError),
    cause: error,
  });
}
