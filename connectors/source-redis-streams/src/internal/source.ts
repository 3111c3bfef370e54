import {
  ConnectorError,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import { createRedisClient, ensureConnected, redisAddress, toRedisError } from "@pulsar-connect/redis-common";
import type { Redis } from "ioredis";
import type { RedisStreamSourceConfig } from "../definition.ts";
import { entryRecord, type StreamEntry } from "./entries.ts";

type ReadReply = Array<[key: Buffer, entries: StreamEntry[]]> | null;

/**
 * Reads through a consumer group. Entries stay pending in the group until the runtime acks their record (XACK after
 * the Pulsar receipt); after a restart the consumer first reads its own pending entries again (from id 0), and entries
 * that other consumers left pending for `claimIdleMs` are taken over with XAUTOCLAIM.
 */
export class RedisStreamSource implements SourceInstance {
  private readonly config: RedisStreamSourceConfig;
  private readonly consumer: string;
  /** Blocking reads hold their connection; acks go over a second one so they never wait behind a BLOCK. */
  private readonly reader: Redis;
  private readonly acker: Redis;
  private readonly logger: SourceContext["logger"];
  /** Ids read and not settled yet: a re-read of the pending list must not send them twice at once. */
  private readonly inFlight = new Set<string>();
  /** Where the next read of this consumer's own pending entries starts; undefined once they are all read. */
  private pendingCursor: string | undefined = "0";
  private claimCursor = "0-0";
  private nextClaimAt = 0;

  private constructor(config: RedisStreamSourceConfig, context: SourceContext) {
    this.config = config;
    this.logger = context.logger;
    this.consumer = config.consumerName ?? `${context.name}-${context.instanceId}`;
    const name = `pulsar-connect:${context.tenant}/${context.namespace}/${context.name}:${context.instanceId}`;
    this.reader = createRedisClient(config, `${name}:read`);
    this.acker = createRedisClient(config, `${name}:ack`);
  }

  static async open(config: RedisStreamSourceConfig, context: SourceContext): Promise<RedisStreamSource> {
    const source = new RedisStreamSource(config, context);
    try {
      await source.connect();
    } catch (error) {
      source.reader.disconnect();
      source.acker.disconnect();
      throw error;
    }
    return source;
  }

  private async connect(): Promise<void> {
    await ensureConnected(this.reader, this.config);
    await ensureConnected(this.acker, this.config);
    if (this.config.createGroup) await this.createGroup();
  }

  private async createGroup(): Promise<void> {
    try {
      await this.acker.xgroup(
        "CREATE",
        this.config.streamKey,
        this.config.consumerGroup,
        this.config.startId,
        "MKSTREAM",
      );
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw toRedisError(error, "cannot create the consumer group");
    }
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[]> {
    try {
      await ensureConnected(this.reader, this.config);
      const count = Math.max(1, Math.min(maxRecords, this.config.batchSize));
      if (this.pendingCursor !== undefined) {
        const entries = await this.readGroup(count, this.pendingCursor, undefined);
        const last = entries.at(-1);
        this.pendingCursor = last === undefined ? undefined : last[0].toString();
        const records = await this.toRecords(entries);
        if (records.length > 0 || this.pendingCursor !== undefined) return records;
      }
      if (this.config.claimIdleMs > 0 && Date.now() >= this.nextClaimAt) {
        const records = await this.claim(count);
        if (records.length > 0) return records;
      }
      if (signal.aborted) return [];
      return this.toRecords(await this.readGroup(count, ">", this.config.blockMs));
    } catch (error) {
      if (/NOGROUP/.test((error as Error).message)) {
        // A group deleted while running is created again (at startId) before the read is retried.
        if (this.config.createGroup) await this.createGroup().catch(() => {});
        throw new ConnectorError(
          "NOT_FOUND",
          `stream ${this.config.streamKey} has no consumer group ${this.config.consumerGroup} (createGroup is false, or it was deleted)`,
          { retryable: this.config.createGroup, cause: error },
        );
      }
      throw toRedisError(error, `cannot read stream ${this.config.streamKey} on ${redisAddress(this.config)}`);
    }
  }

  private async readGroup(count: number, from: string, blockMs: number | undefined): Promise<StreamEntry[]> {
    const block = blockMs === undefined ? [] : ["BLOCK", blockMs];
    const reply = (await this.reader.callBuffer(
      "XREADGROUP",
      "GROUP",
      this.config.consumerGroup,
      this.consumer,
      "COUNT",
      count,
      ...block,
      "STREAMS",
      this.config.streamKey,
      from,
    )) as ReadReply;
    return reply?.[0]?.[1] ?? [];
  }

  /** Takes over entries idle for claimIdleMs in other consumers' pending lists. */
  private async claim(count: number): Promise<SourceRecord[]> {
    const reply = (await this.acker.callBuffer(
      "XAUTOCLAIM",
      this.config.streamKey,
      this.config.consumerGroup,
      this.consumer,
      this.config.claimIdleMs,
      this.claimCursor,
      "COUNT",
      count,
    )) as [next: Buffer, entries: StreamEntry[], deleted?: Buffer[]];
    this.claimCursor = reply[0].toString();
    // A full pass over the pending list ends at 0-0; the next one starts after a pause.
    if (this.claimCursor === "0-0") this.nextClaimAt = Date.now() + Math.max(1_000, this.config.claimIdleMs / 2);
    const records = await this.toRecords(reply[1]);
    if (records.length > 0) this.logger.info({ claimed: records.length }, "took over entries idle in other consumers");
    return records;
  }

  private async toRecords(entries: StreamEntry[]): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
    const gone: string[] = [];
    for (const [rawId, fields] of entries) {
      const id = rawId.toString();
      if (this.inFlight.has(id)) continue;
      if (fields === null) {
        // Deleted (XDEL, trimming) while pending: nothing left to deliver.
        gone.push(id);
        continue;
      }
      const record = entryRecord(id, fields, this.config);
      this.inFlight.add(id);
      record.ack = async () => {
        this.inFlight.delete(id);
        await this.acker.xack(this.config.streamKey, this.config.consumerGroup, id);
      };
      record.fail = () => {
        this.inFlight.delete(id);
        // Still pending in the group: read this consumer's pending list again to send it anew.
        this.pendingCursor = "0";
      };
      records.push(record);
    }
    if (gone.length > 0) await this.acker.xack(this.config.streamKey, this.config.consumerGroup, ...gone);
    return records;
  }

  async close(): Promise<void> {
    await Promise.all([
      this.reader.quit().catch(() => this.reader.disconnect()),
      this.acker.quit().catch(() => this.acker.disconnect()),
    ]);
  }
}
