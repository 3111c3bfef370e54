import {
  ConnectorError,
  type RecordFailure,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import {
  createRedisClient,
  ensureConnected,
  redisAddress,
  toRedisError,
  toReplyError,
} from "@pulsar-connect/redis-common";
import type { Redis } from "ioredis";
import type { RedisSinkConfig } from "../definition.ts";

/** The Redis key (keyValue) or hash field (hash) of a record, or undefined when the config refuses keyless records. */
export function redisKey(
  record: SinkRecord,
  config: Pick<RedisSinkConfig, "keyPrefix" | "missingKey">,
): string | undefined {
  const key =
    record.key ??
    (config.missingKey === "messageId" ? record.messageId : config.missingKey === "empty" ? "" : undefined);
  return key === undefined ? undefined : `${config.keyPrefix}${key}`;
}

/** Writes each batch as pipelines of SET or HSET commands; every command's own reply decides its record's outcome. */
export class RedisSink implements SinkInstance {
  private readonly client: Redis;
  private readonly config: RedisSinkConfig;

  private constructor(config: RedisSinkConfig, context: SinkContext) {
    this.config = config;
    this.client = createRedisClient(
      config,
      `pulsar-connect:${context.tenant}/${context.namespace}/${context.name}:${context.instanceId}`,
      config.operationTimeout,
    );
  }

  static async open(config: RedisSinkConfig, context: SinkContext): Promise<RedisSink> {
    const sink = new RedisSink(config, context);
    try {
      await ensureConnected(sink.client, config);
    } catch (error) {
      sink.client.disconnect();
      throw error;
    }
    return sink;
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    await ensureConnected(this.client, this.config);
    const failed: RecordFailure[] = [];
    const writable: Array<{ index: number; key: string; value: Buffer }> = [];
    for (const [index, record] of records.entries()) {
      const key = redisKey(record, this.config);
      if (key === undefined) {
        failed.push({
          index,
          error: new ConnectorError("INVALID_RECORD", "the record has no key (missingKey: refuse)", {
            retryable: false,
          }),
        });
        continue;
      }
      writable.push({
        index,
        key,
        value: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength),
      });
    }
    for (let start = 0; start < writable.length; start += this.config.batchSize) {
      const chunk = writable.slice(start, start + this.config.batchSize);
      const pipeline = this.client.pipeline();
      for (const { key, value } of chunk) {
        if (this.config.mode === "hash") pipeline.hset(this.config.hashName as string, key, value);
        else pipeline.set(key, value);
      }
      let replies: Array<[Error | null, unknown]> | null;
      try {
        replies = await pipeline.exec();
      } catch (error) {
        const failure = toRedisError(error, `Redis pipeline to ${redisAddress(this.config)} failed`);
        // This chunk and the ones after it are not written; the runtime writes them again in order.
        for (const entry of writable.slice(start)) failed.push({ index: entry.index, error: failure });
        break;
      }
      for (const [position, entry] of chunk.entries()) {
        const reply = replies?.[position];
        const error = reply === undefined ? new Error("no reply") : reply[0];
        if (error)
          failed.push({
            index: entry.index,
            error: toReplyError(error, `Redis at ${redisAddress(this.config)} refused ${entry.key}`),
          });
      }
    }
    if (failed.length === 0) return;
    if (failed.length === records.length && failed.every((f) => f.error === failed[0]?.error)) throw failed[0]?.error;
    failed.sort((a, b) => a.index - b.index);
    return { failed };
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
