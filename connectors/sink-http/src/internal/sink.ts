import {
  ConnectorError,
  type RecordFailure,
  type SinkBatching,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import type { HttpSinkConfig } from "../definition.ts";
import { checkHeader, type HttpPost, HttpPoster, type Verdict, verdictOf } from "./requests.ts";

/** `JSON.rawJSON` (Node 21+; not in TypeScript's lib yet): writes 64-bit integers as numbers, without rounding. */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** JSON text of a record value as upstream sends it: bytes as base64, 64-bit integers as numbers, nothing as null. */
export function jsonBody(value: unknown): string {
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key, converted: unknown) {
    const original = this[key];
    if (original instanceof Uint8Array) {
      return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString("base64");
    }
    return typeof converted === "bigint" ? rawJson(converted.toString()) : converted;
  });
  return text ?? "null";
}

/** The upstream metadata headers of a record (PulsarTopic, PulsarKey, ...); throws INVALID_RECORD when one cannot be sent. */
export function recordHeaders(record: SinkRecord): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.properties)) headers[`PulsarProperties-${name}`] = value;
  headers.PulsarTopic = record.topicName;
  if (record.eventTime !== undefined) headers.PulsarEventTime = String(record.eventTime);
  if (record.key !== undefined) headers.PulsarKey = record.key;
  headers.PulsarMessageId = record.messageId;
  if (record.publishTime !== 0) headers.PulsarPublishTime = String(record.publishTime);
  for (const [name, value] of Object.entries(headers)) checkHeader(name, value);
  return headers;
}

/** Errors of records left unsent behind a failed request. */
const unsent = new WeakSet<Error>();
const notSent = (cause: ConnectorError) => {
  const error = new ConnectorError("WRITE_FAILED", `not sent: an earlier request failed (${cause.message})`, {
    retryable: true,
  });
  unsent.add(error);
  return error;
};

/**
 * POSTs records to one URL, in order, one request at a time: a record (perRecord) or a JSON array of records
 * (jsonArray) per request. The answer of each request settles its records (see {@link verdictOf}); after a failure
 * that is not about the records, nothing later in the batch is sent, so the runtime resends in order.
 */
export class HttpSink implements SinkInstance {
  readonly batching?: SinkBatching;
  private readonly config: HttpSinkConfig;
  private readonly context: SinkContext;
  private readonly poster: HttpPoster;
  private readonly fixedHeaders: Record<string, string>;
  private readonly secretValues: string[];
  /** No request before this time: a Retry-After asked for it. */
  private notBefore = 0;

  private constructor(config: HttpSinkConfig, context: SinkContext) {
    this.config = config;
    this.context = context;
    this.poster = new HttpPoster(config.url, config.requestTimeoutMs);
    const contentType =
      config.contentType ?? (config.bodyFormat === "raw" ? "application/octet-stream" : "application/json");
    this.secretValues = Object.values(config.secretHeaders ?? {});
    this.fixedHeaders = { ...config.headers, ...config.secretHeaders };
    // A Content-Type among the configured headers is kept (the config refuses it together with contentType).
    if (!Object.keys(this.fixedHeaders).some((name) => name.toLowerCase() === "content-type")) {
      this.fixedHeaders["Content-Type"] = contentType;
    }
    if (config.requestMode === "jsonArray") {
      this.batching = {
        maxRecords: config.batchMaxRecords,
        maxBytes: config.batchMaxBytes,
        maxWaitMs: config.batchLingerMs,
      };
    }
  }

  static async open(config: HttpSinkConfig, context: SinkContext): Promise<HttpSink> {
    return new HttpSink(config, context);
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    await this.waitForRetryAfter();
    const failed =
      this.config.requestMode === "jsonArray" ? await this.writeArrays(records) : await this.writeEach(records);
    if (failed.length === 0) return;
    // The first request failed for a reason not about its records and nothing else went: the whole write failed,
    // which the runtime retries with backoff (or, for refused credentials, ends the instance).
    const first = failed[0];
    const wholeWrite =
      first?.index === 0 &&
      failed.length === records.length &&
      failed.slice(1).every((failure) => failure.error === first.error || unsent.has(failure.error));
    if (wholeWrite && (first.error as ConnectorError).code !== "INVALID_RECORD") throw first.error;
    return { failed };
  }

  private async writeEach(records: SinkRecord[]): Promise<RecordFailure[]> {
    const failed: RecordFailure[] = [];
    for (const [index, record] of records.entries()) {
      let post: HttpPost;
      try {
        post = this.recordPost(record);
      } catch (error) {
        failed.push({ index, error: error as Error });
        continue;
      }
      const verdict = await this.send(post);
      if (verdict.kind === "written") continue;
      failed.push({ index, error: verdict.error });
      if (verdict.kind === "refused") continue;
      for (let rest = index + 1; rest < records.length; rest += 1) {
        failed.push({ index: rest, error: notSent(verdict.error) });
      }
      break;
    }
    return failed;
  }

  private async writeArrays(records: SinkRecord[]): Promise<RecordFailure[]> {
    const failed: RecordFailure[] = [];
    const bodies = records.map((record) => jsonBody(record.value));
    let start = 0;
    while (start < records.length) {
      // A chunk holds at least one record, then grows while it stays within both limits.
      let end = start + 1;
      let bytes = 2 + Buffer.byteLength(bodies[start] as string);
      while (end < records.length && end - start < this.config.batchMaxRecords) {
        const next = bytes + 1 + Buffer.byteLength(bodies[end] as string);
        if (next > this.config.batchMaxBytes) break;
        bytes = next;
        end += 1;
      }
      const verdict = await this.send(this.arrayPost(bodies.slice(start, end)));
      if (verdict.kind === "refused" && end - start > 1) {
        // The receiver refused the array: find out which records it refuses by sending them alone.
        const alone = await this.writeArraysOneByOne(bodies, start, end);
        failed.push(...alone.failed);
        if (alone.stopped) {
          for (let rest = end; rest < records.length; rest += 1) {
            failed.push({ index: rest, error: notSent(alone.stopped) });
          }
          break;
        }
      } else if (verdict.kind === "refused") {
        failed.push({ index: start, error: verdict.error });
      } else if (verdict.kind !== "written") {
        for (let index = start; index < records.length; index += 1) {
          failed.push({ index, error: index < end ? verdict.error : notSent(verdict.error) });
        }
        break;
      }
      start = end;
    }
    return failed;
  }

  private async writeArraysOneByOne(
    bodies: string[],
    start: number,
    end: number,
  ): Promise<{ failed: RecordFailure[]; stopped?: ConnectorError }> {
    const failed: RecordFailure[] = [];
    for (let index = start; index < end; index += 1) {
      const verdict = await this.send(this.arrayPost([bodies[index] as string]));
      if (verdict.kind === "written") continue;
      failed.push({ index, error: verdict.error });
      if (verdict.kind === "refused") continue;
      for (let rest = index + 1; rest < end; rest += 1) failed.push({ index: rest, error: notSent(verdict.error) });
      return { failed, stopped: verdict.error };
    }
    return { failed };
  }

  private recordPost(record: SinkRecord): HttpPost {
    const body =
      this.config.bodyFormat === "raw" ? record.data : new Uint8Array(Buffer.from(jsonBody(record.value), "utf8"));
    return { headers: { ...this.fixedHeaders, ...recordHeaders(record) }, body };
  }

  private arrayPost(bodies: string[]): HttpPost {
    return { headers: this.fixedHeaders, body: new Uint8Array(Buffer.from(`[${bodies.join(",")}]`, "utf8")) };
  }

  /** Sends one request; a network failure counts like a retryable answer. */
  private async send(post: HttpPost): Promise<Verdict> {
    let verdict: Verdict;
    try {
      verdict = verdictOf(await this.poster.post(post, this.context.signal), this.poster.target, this.secretValues);
    } catch (error) {
      return { kind: "retry", error: error as ConnectorError };
    }
    if (verdict.kind === "retry" && verdict.waitMs !== undefined) {
      this.notBefore = Date.now() + Math.min(verdict.waitMs, this.config.maxRetryAfterMs);
    }
    return verdict;
  }

  /** Waits out a Retry-After (on top of the runtime's own backoff), or until the instance stops. */
  private async waitForRetryAfter(): Promise<void> {
    const wait = this.notBefore - Date.now();
    if (wait <= 0) return;
    const { signal } = this.context;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
