import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import {
  ConnectorError,
  type Logger,
  type RecordFailure,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import type { InfluxdbSinkConfig } from "../definition.ts";
import { formatPoint, pointProblem } from "./line-protocol.ts";
import { recordPoint } from "./points.ts";

const gzip = promisify(gzipCallback);

interface Line {
  /** Index of the record in the batch. */
  index: number;
  text: string;
}

/** A failure that stops the rest of the batch (server unreachable, 5xx, credentials): retried by the runtime. */
class BatchStop extends Error {
  readonly error: ConnectorError;
  constructor(error: ConnectorError) {
    super(error.message);
    this.error = error;
  }
}

/** Quotes an identifier for InfluxQL. */
const identifier = (name: string) => `"${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * Writes each batch as line-protocol requests of up to `batchSize` points. A request the server refuses as a whole
 * (4xx) is split in halves until the refused records are found: those go to the dead-letter topic, the others are
 * written. Rewriting a point is harmless: it has the same series and time, so it replaces itself.
 */
export class InfluxdbSink implements SinkInstance {
  private readonly config: InfluxdbSinkConfig;
  private readonly logger: Logger;
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private lastMs = 0;
  private sameMs = 0;
  private databaseChecked = false;

  private constructor(config: InfluxdbSinkConfig, context: SinkContext) {
    this.config = config;
    this.logger = context.logger;
    this.base = new URL(config.influxdbUrl.endsWith("/") ? config.influxdbUrl : `${config.influxdbUrl}/`);
    this.headers = {};
    if (config.username !== undefined) {
      const token = Buffer.from(`${config.username}:${config.password ?? ""}`).toString("base64");
      this.headers.authorization = `Basic ${token}`;
    }
  }

  static async open(config: InfluxdbSinkConfig, context: SinkContext): Promise<InfluxdbSink> {
    const sink = new InfluxdbSink(config, context);
    await sink.ensureDatabase();
    return sink;
  }

  /** Where the server is, for messages (no credentials: the URL refuses them). */
  private get address(): string {
    return this.base.origin;
  }

  /** Time of writing in nanoseconds, distinct for every point of this instance so none replaces another. */
  private now = (): bigint => {
    const ms = Date.now();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.sameMs = 0;
    } else {
      this.sameMs += 1;
    }
    return BigInt(this.lastMs) * 1_000_000n + BigInt(this.sameMs);
  };

  private async request(path: string, params: Record<string, string>, body?: Buffer): Promise<Response> {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    const headers: Record<string, string> = { ...this.headers };
    if (body !== undefined) {
      headers["content-type"] = "text/plain; charset=utf-8";
      if (this.config.gzipEnable) headers["content-encoding"] = "gzip";
    }
    try {
      return await fetch(url, {
        method: "POST",
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.config.writeTimeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new ConnectorError("CONNECTION_FAILED", `cannot reach InfluxDB at ${this.address}: ${cause}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  private static async serverError(response: Response): Promise<string> {
    const text = await response.text().catch(() => "");
    try {
      return (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      return text || response.statusText;
    }
  }

  private async failure(response: Response, what: string): Promise<ConnectorError> {
    const message = `${what}: HTTP ${response.status} ${await InfluxdbSink.serverError(response)}`;
    if (response.status === 401 || response.status === 403) {
      // Credentials or grants can be fixed while the sink retries; the status says why it does.
      return new ConnectorError("AUTH_FAILED", message, { retryable: true });
    }
    if (response.status === 404) return new ConnectorError("NOT_FOUND", message, { retryable: true });
    if (response.status >= 500) return new ConnectorError("WRITE_FAILED", message, { retryable: true });
    return new ConnectorError("INVALID_RECORD", message, { retryable: false });
  }

  /** Creates the database when asked to (CREATE DATABASE does nothing when it exists). */
  private async ensureDatabase(): Promise<void> {
    if (!this.config.createDatabase || this.databaseChecked) return;
    const response = await this.request("query", { q: `CREATE DATABASE ${identifier(this.config.database)}` });
    if (!response.ok) {
      throw await this.failure(response, `cannot create database ${this.config.database} on ${this.address}`);
    }
    // /query answers 200 with the error inside the results (e.g. missing admin rights).
    const result = (await response.json().catch(() => ({}))) as { results?: Array<{ error?: string }> };
    const error = result.results?.find((entry) => entry.error !== undefined)?.error;
    if (error !== undefined) {
      throw new ConnectorError("AUTH_FAILED", `cannot create database ${this.config.database}: ${error}`, {
        retryable: true,
      });
    }
    this.databaseChecked = true;
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    await this.ensureDatabase();
    const failed: RecordFailure[] = [];
    const lines: Line[] = [];
    for (const [index, record] of records.entries()) {
      const point = recordPoint(record, this.config, this.now);
      const problem = typeof point === "string" ? point : pointProblem(point);
      if (problem !== undefined || typeof point === "string") {
        failed.push({
          index,
          error: new ConnectorError("INVALID_RECORD", `record cannot be a point: ${problem}`, { retryable: false }),
        });
        continue;
      }
      lines.push({ index, text: formatPoint(point) });
    }
    for (let start = 0; start < lines.length; start += this.config.batchSize) {
      try {
        failed.push(...(await this.writeLines(lines.slice(start, start + this.config.batchSize))));
      } catch (error) {
        if (!(error instanceof BatchStop)) throw error;
        if (error.error.code === "NOT_FOUND") this.databaseChecked = false;
        // These lines and the ones after them are not (all) written; the runtime writes them again in order.
        for (const line of lines.slice(start)) failed.push({ index: line.index, error: error.error });
        break;
      }
    }
    if (failed.length === 0) return;
    if (failed.length === records.length && failed.every((f) => f.error === failed[0]?.error)) throw failed[0]?.error;
    failed.sort((a, b) => a.index - b.index);
    return { failed };
  }

  /** Writes the lines; returns the records the server refused, throws BatchStop when it could not write at all. */
  private async writeLines(lines: Line[]): Promise<RecordFailure[]> {
    if (lines.length === 0) return [];
    const text = Buffer.from(lines.map((line) => line.text).join("\n"));
    const body = this.config.gzipEnable ? await gzip(text) : text;
    const params: Record<string, string> = {
      db: this.config.database,
      rp: this.config.retentionPolicy,
      precision: "ns",
      consistency: this.config.consistencyLevel.toLowerCase(),
    };
    let response: Response;
    try {
      response = await this.request("write", params, body);
    } catch (error) {
      throw new BatchStop(error as ConnectorError);
    }
    if (response.status === 204 || response.ok) {
      await response.body?.cancel();
      return [];
    }
    const error = await this.failure(
      response,
      `InfluxDB at ${this.address} refused the write to ${this.config.database}`,
    );
    if (error.retryable) throw new BatchStop(error);
    if (lines.length === 1) {
      this.logger.warn({ status: response.status, reason: error.message }, "InfluxDB refused a point");
      return [{ index: (lines[0] as Line).index, error }];
    }
    const half = Math.ceil(lines.length / 2);
    return [...(await this.writeLines(lines.slice(0, half))), ...(await this.writeLines(lines.slice(half)))];
  }

  async close(): Promise<void> {}
}
