import { once } from "node:events";
import {
  ConnectorError,
  type RecordFailure,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import { queueArguments, RabbitmqSession, toRabbitmqError } from "@pulsar-connect/rabbitmq-common";
import type { ConfirmChannel, Message, Options } from "amqplib";
import type { RabbitmqSinkConfig } from "../definition.ts";

/** The record property that overrides the configured routing key (upstream name). */
export const ROUTING_KEY_PROPERTY = "routingKey";

/** The AMQP publish options of a record: its properties as headers, the Pulsar message id as message-id. */
export function publishOptions(record: SinkRecord, persistent: boolean): Options.Publish {
  const options: Options.Publish = {
    persistent,
    // Unroutable messages come back (basic.return) instead of being dropped silently.
    mandatory: true,
    messageId: record.messageId,
    headers: { ...record.properties },
  };
  if (record.eventTime !== undefined && record.eventTime > 0) options.timestamp = Math.floor(record.eventTime / 1000);
  return options;
}

/** Publishes through a confirm channel: a write resolves only for messages the broker confirmed. */
export class RabbitmqSink implements SinkInstance {
  private readonly session: RabbitmqSession<ConfirmChannel>;
  /** Message ids the broker returned as unroutable during the current write, with its reason. */
  private readonly returned = new Map<string, string>();

  private readonly config: RabbitmqSinkConfig;

  private constructor(config: RabbitmqSinkConfig, context: SinkContext) {
    this.config = config;
    this.session = new RabbitmqSession(
      config,
      `pulsar-connect ${context.tenant}/${context.namespace}/${context.name}[${context.instanceId}]`,
      context.logger,
      (connection) => connection.createConfirmChannel(),
      async (channel) => {
        channel.on("return", (message: Message) => {
          const id = message.properties.messageId as string | undefined;
          if (id !== undefined) this.returned.set(id, `${message.fields.exchange}/${message.fields.routingKey}`);
        });
        await this.declare(channel);
      },
    );
  }

  static async open(config: RabbitmqSinkConfig, context: SinkContext): Promise<RabbitmqSink> {
    const sink = new RabbitmqSink(config, context);
    await sink.session.current();
    return sink;
  }

  private async declare(channel: ConfirmChannel): Promise<void> {
    const { exchangeName, queueName } = this.config;
    if (queueName === "") {
      await channel.assertExchange(exchangeName, this.config.exchangeType ?? "topic", { durable: true });
      return;
    }
    await channel.assertExchange(exchangeName, "direct", { durable: true });
    await channel.assertQueue(queueName, { durable: true, arguments: queueArguments(this.config.queueType) });
    await channel.bindQueue(queueName, exchangeName, this.config.routingKey);
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    const { channel } = await this.session.current();
    const closed = new Promise<never>((_, reject) => {
      const onClose = () =>
        reject(
          new ConnectorError(
            "CONNECTION_FAILED",
            `RabbitMQ channel closed before every publish was confirmed (${this.session.lastFailure ?? "closed"})`,
            { retryable: true },
          ),
        );
      channel.once("close", onClose);
    });
    closed.catch(() => {});
    const failed: RecordFailure[] = [];
    const confirms: Promise<void>[] = [];
    let inFlight = 0;
    let freed: (() => void) | undefined;
    const persistent = this.config.deliveryMode === "persistent";
    try {
      for (const [index, record] of records.entries()) {
        const routingKey = record.properties[ROUTING_KEY_PROPERTY] || this.config.routingKey;
        const content = Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength);
        inFlight += 1;
        let writable = true;
        confirms.push(
          new Promise<void>((resolve) => {
            writable = channel.publish(
              this.config.exchangeName,
              routingKey,
              content,
              publishOptions(record, persistent),
              (error: unknown) => {
                inFlight -= 1;
                freed?.();
                const unroutable = this.returned.get(record.messageId);
                this.returned.delete(record.messageId);
                if (error) {
                  failed.push({
                    index,
                    error: new ConnectorError("WRITE_FAILED", "RabbitMQ refused the message (nack)", {
                      retryable: true,
                      cause: error,
                    }),
                  });
                } else if (unroutable !== undefined) {
                  failed.push({
                    index,
                    error: new ConnectorError(
                      "WRITE_FAILED",
                      `no queue is bound for exchange/routing key ${unroutable}: the broker would drop the message`,
                      { retryable: false },
                    ),
                  });
                }
                resolve();
              },
            );
          }),
        );
        if (!writable) await Promise.race([once(channel, "drain"), closed]);
        while (inFlight >= this.config.maxInFlight) {
          await Promise.race([new Promise<void>((resolve) => (freed = resolve)), closed]);
        }
      }
      await Promise.race([Promise.all(confirms), closed]);
    } catch (error) {
      this.session.reset(`publish failed: ${(error as Error).message}`);
      throw toRabbitmqError(error, "RabbitMQ publish failed");
    }
    if (failed.length === 0) return;
    failed.sort((a, b) => a.index - b.index);
    return { failed };
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
