import { AckPolicy, type Consumer, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  ConnectorError,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import { connectNats, toNatsError } from "@pulsar-connect/nats-common";
import type { NatsSourceConfig } from "../definition.ts";

/** The shortest wait of a pull request the server accepts. */
const MIN_EXPIRES_MS = 1_000;

export function headerProperties(headers: MsgHdrs | undefined): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [name, values] of headers ?? []) properties[name] = values.join(",");
  return properties;
}

const deliverPolicies = { all: DeliverPolicy.All, new: DeliverPolicy.New, last: DeliverPolicy.Last } as const;

/**
 * JetStream: pulls from a durable consumer with explicit acks. A message is acked when the runtime settles its record
 * (after the Pulsar receipt, or at once under ATMOST_ONCE) and nak'ed when the send failed; one not acked within
 * ackWaitMs (a crash) comes again. With `ordered`, records carry partition `nats:<stream>` and the stream sequence
 * (EFFECTIVELY_ONCE) and each opening restarts from the ack floor.
 * Core: a subscription whose messages are gone once delivered (at most once, whatever the guarantee).
 */
export class NatsSource implements SourceInstance {
  private readonly config: NatsSourceConfig;
  private readonly connection: NatsConnection;
  private readonly describe: () => string;
  private readonly connected: () => boolean;
  private consumer: Consumer | undefined;
  private subscription: Subscription | undefined;
  private readonly coreBuffer: SourceRecord[] = [];
  private wake: (() => void) | undefined;

  private constructor(
    config: NatsSourceConfig,
    connection: NatsConnection,
    describe: () => string,
    connected: () => boolean,
  ) {
    this.config = config;
    this.connection = connection;
    this.describe = describe;
    this.connected = connected;
  }

  static async open(config: NatsSourceConfig, context: SourceContext): Promise<NatsSource> {
    const name = `pulsar-connect ${context.tenant}/${context.namespace}/${context.name}[${context.instanceId}]`;
    const { connection, describe, connected } = await connectNats(config, name, context.logger);
    const source = new NatsSource(config, connection, describe, connected);
    try {
      if (config.mode === "jetstream") await source.bindConsumer();
      else {
        context.logger.warn(
          { subject: config.subject },
          "core NATS delivers each message once and keeps nothing: at most once, whatever the processing guarantee",
        );
        source.subscribe();
      }
    } catch (error) {
      await connection.close().catch(() => {});
      throw toNatsError(error, `cannot set up the ${config.mode} consumer (${describe()})`);
    }
    return source;
  }

  private async bindConsumer(): Promise<void> {
    const stream = this.config.stream as string;
    const durable = this.config.durableName as string;
    const jsm = await jetstreamManager(this.connection);
    const existing = await jsm.consumers.info(stream, durable).catch((error: Error) => {
      if (/consumer not found/i.test(error.message)) return undefined;
      throw error;
    });
    const settings = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.config.ackWaitMs * 1_000_000,
      max_ack_pending: this.config.maxAckPending,
      ...(this.config.subject ? { filter_subject: this.config.subject } : {}),
    };
    if (existing === undefined) {
      await jsm.consumers.add(stream, { ...settings, deliver_policy: deliverPolicies[this.config.deliverPolicy] });
    } else if (this.config.ordered) {
      // Messages left unacked by a crash would come back after ackWaitMs, behind newer ones: a deduplicating
      // producer would then drop them as old. Starting again right after the ack floor keeps stream order; what was
      // acked beyond the floor comes again and is dropped by the deduplication, as it should be.
      await jsm.consumers.delete(stream, durable);
      await jsm.consumers.add(stream, {
        ...settings,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: existing.ack_floor.stream_seq + 1,
      });
    }
    this.consumer = await jetstream(this.connection).consumers.get(stream, durable);
  }

  private subscribe(): void {
    const subscription = this.connection.subscribe(this.config.subject as string, {
      ...(this.config.queueGroup ? { queue: this.config.queueGroup } : {}),
      callback: (error, message) => {
        if (error) return;
        const record: SourceRecord<Uint8Array> = { value: message.data, properties: headerProperties(message.headers) };
        record.properties = { ...record.properties, "nats.subject": message.subject };
        this.coreBuffer.push(record);
        this.wake?.();
      },
    });
    this.subscription = subscription;
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[]> {
    if (this.consumer) return this.pull(this.consumer, maxRecords, signal);
    if (this.coreBuffer.length === 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, 500);
        signal.addEventListener("abort", done);
        this.wake = done;
      });
    }
    return this.coreBuffer.splice(0, maxRecords);
  }

  private async pull(consumer: Consumer, maxRecords: number, signal: AbortSignal): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
    if (!this.connected()) {
      throw new ConnectorError("CONNECTION_FAILED", `cannot pull: ${this.describe()}`, { retryable: true });
    }
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const messages = await consumer.fetch({
        max_messages: Math.max(1, Math.min(maxRecords, this.config.batchSize)),
        expires: MIN_EXPIRES_MS,
      });
      const stop = () => messages.stop();
      signal.addEventListener("abort", stop);
      // A pull whose connection drops may never end by itself: stop it a while after it should have expired.
      let stalled = false;
      watchdog = setTimeout(() => {
        stalled = true;
        messages.stop();
      }, MIN_EXPIRES_MS + 5_000);
      try {
        for await (const message of messages) records.push(this.toRecord(message));
      } finally {
        signal.removeEventListener("abort", stop);
      }
      if (stalled && records.length === 0) throw new Error("the pull request got no answer");
    } catch (error) {
      // Messages delivered before the failure stay unacked: JetStream redelivers them after ackWaitMs.
      for (const record of records) await record.fail?.(error as Error);
      throw toNatsError(
        error,
        `cannot pull from ${this.config.stream}/${this.config.durableName} (${this.describe()})`,
      );
    } finally {
      clearTimeout(watchdog);
    }
    return records;
  }

  private toRecord(message: JsMsg): SourceRecord<Uint8Array> {
    const record: SourceRecord<Uint8Array> = {
      value: message.data,
      properties: { ...headerProperties(message.headers), "nats.subject": message.subject },
      eventTime: Math.floor(message.info.timestampNanos / 1_000_000),
      // ackAck: the ack counts once the server confirmed it; otherwise the message comes again after ackWaitMs.
      ack: async () => {
        await message.ackAck();
      },
      fail: () => message.nak(),
    };
    if (this.config.ordered) {
      record.partitionId = `nats:${this.config.stream}`;
      record.sequence = BigInt(message.seq);
    }
    return record;
  }

  async close(): Promise<void> {
    this.wake?.();
    this.subscription?.unsubscribe();
    await this.connection.drain().catch(() => this.connection.close());
  }
}
