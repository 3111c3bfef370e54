import type { ReadOptions, SourceContext, SourceInstance, SourceRecord } from "@pulsar-connect/core";
import { queueArguments, RabbitmqSession } from "@pulsar-connect/rabbitmq-common";
import type { Channel, ConsumeMessage } from "amqplib";
import type { RabbitmqSourceConfig } from "../definition.ts";

/** How long an empty `read` waits for a delivery before it returns no records. */
const IDLE_READ_MS = 500;

interface Delivery {
  message: ConsumeMessage;
  channel: Channel;
  generation: number;
}

/** Message properties worth carrying to Pulsar, as strings. */
export function recordProperties(message: ConsumeMessage): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) {
    if (value === undefined || value === null) continue;
    properties[name] = Buffer.isBuffer(value)
      ? value.toString("utf8")
      : typeof value === "object"
        ? JSON.stringify(value)
        : String(value);
  }
  const { messageId, correlationId, contentType, type, appId } = message.properties;
  if (messageId) properties["amqp.messageId"] = String(messageId);
  if (correlationId) properties["amqp.correlationId"] = String(correlationId);
  if (contentType) properties["amqp.contentType"] = String(contentType);
  if (type) properties["amqp.type"] = String(type);
  if (appId) properties["amqp.appId"] = String(appId);
  properties["amqp.exchange"] = message.fields.exchange;
  return properties;
}

/**
 * Consumes with manual acknowledgement. A delivery is acked (or requeued on failure) when the runtime settles its
 * record: after the Pulsar receipt under ATLEAST_ONCE, at once under ATMOST_ONCE. Deliveries of a channel that
 * closed are dropped: the broker redelivers them on the next one.
 */
export class RabbitmqSource implements SourceInstance {
  private readonly session: RabbitmqSession<Channel>;
  private readonly config: RabbitmqSourceConfig;
  private buffer: Delivery[] = [];
  private wake: (() => void) | undefined;

  private constructor(config: RabbitmqSourceConfig, context: SourceContext) {
    this.config = config;
    this.session = new RabbitmqSession(
      config,
      `pulsar-connect ${context.tenant}/${context.namespace}/${context.name}[${context.instanceId}]`,
      context.logger,
      (connection) => connection.createChannel(),
      (channel, generation) => this.consume(channel, generation),
    );
    if (config.prefetchCount === 0) {
      context.logger.warn(
        { queueName: config.queueName },
        "prefetchCount is 0 (unlimited): the broker may push the whole queue into memory; set a bound",
      );
    }
  }

  static async open(config: RabbitmqSourceConfig, context: SourceContext): Promise<RabbitmqSource> {
    const source = new RabbitmqSource(config, context);
    await source.session.current();
    return source;
  }

  private async consume(channel: Channel, generation: number): Promise<void> {
    const { queueName } = this.config;
    if (this.config.prefetchCount > 0) await channel.prefetch(this.config.prefetchCount, this.config.prefetchGlobal);
    if (this.config.passive) await channel.checkQueue(queueName);
    else await channel.assertQueue(queueName, { durable: true, arguments: queueArguments(this.config.queueType) });
    await channel.consume(
      queueName,
      (message) => {
        if (message === null) {
          // The broker cancelled the consumer (queue deleted, or a quorum queue lost its leader).
          this.session.reset(`the broker cancelled the consumer of ${queueName}`);
        } else {
          this.buffer.push({ message, channel, generation });
        }
        this.wake?.();
      },
      { noAck: false },
    );
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[]> {
    await this.session.current();
    this.buffer = this.buffer.filter((delivery) => this.session.isLive(delivery.generation));
    if (this.buffer.length === 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, IDLE_READ_MS);
        signal.addEventListener("abort", done);
        this.wake = done;
      });
    }
    const taken = this.buffer.splice(0, maxRecords).filter((delivery) => this.session.isLive(delivery.generation));
    return taken.map((delivery) => this.toRecord(delivery));
  }

  private toRecord({ message, channel, generation }: Delivery): SourceRecord<Uint8Array> {
    const record: SourceRecord<Uint8Array> = {
      value: new Uint8Array(message.content.buffer, message.content.byteOffset, message.content.byteLength),
      properties: recordProperties(message),
      ack: () => {
        if (this.session.isLive(generation)) channel.ack(message);
      },
      fail: () => {
        if (this.session.isLive(generation)) channel.nack(message, false, true);
      },
    };
    if (message.fields.routingKey !== "") record.key = message.fields.routingKey;
    const timestamp = message.properties.timestamp as number | undefined;
    if (typeof timestamp === "number" && timestamp > 0) record.eventTime = timestamp * 1000;
    return record;
  }

  async close(): Promise<void> {
    this.wake?.();
    this.buffer = [];
    await this.session.close();
  }
}
