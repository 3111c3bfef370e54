import type { Logger } from "@pulsar-connect/core/host";
import type { InstanceStats } from "../stats.ts";
import { Backoff, sleep } from "./backoff.ts";
import type { MessageLike, ProducerLike, PulsarConnections } from "./pulsar.ts";

export interface DeadLetterOptions {
  pulsar: PulsarConnections;
  logger: Logger;
  stats: InstanceStats;
  /** The configured dead-letter topic, else `<topic>-<subscription>-DLQ` per input topic (upstream's name). */
  deadLetterTopic: string | undefined;
  subscription: string;
  /** Aborts the retry wait when the instance stops. */
  signal: AbortSignal;
  /** True once the instance stops: a send that keeps failing is then given up, and the message stays unacked. */
  stopping: () => boolean;
}

/** Publishes messages that cannot be written to the dead-letter topic, one producer per dead-letter topic. */
export class DeadLetterPublisher {
  private readonly options: DeadLetterOptions;
  private readonly producers = new Map<string, Promise<ProducerLike>>();

  constructor(options: DeadLetterOptions) {
    this.options = options;
  }

  topicFor(topic: string): string {
    if (this.options.deadLetterTopic) return this.options.deadLetterTopic;
    const subscription = this.options.subscription.replaceAll("/", "-");
    return `${topic.replace(/-partition-\d+$/, "")}-${subscription}-DLQ`;
  }

  /**
   * Sends `message` with the reason until the broker confirms it. Resolves false when the instance stopped first:
   * the caller must then not acknowledge the message.
   */
  async send(message: MessageLike, error: Error): Promise<boolean> {
    const topic = this.topicFor(message.topic);
    const backoff = new Backoff(200, 10_000);
    const properties: Record<string, string> = {
      ...message.properties,
      __pulsar_connect_error: error.message.slice(0, 1000),
      __pulsar_connect_origin_topic: message.topic,
      __pulsar_connect_origin_message_id: Buffer.from(message.messageId.serialize()).toString("base64"),
    };
    const out: { value: Uint8Array; key?: string; properties: Record<string, string> } = {
      value: message.data,
      properties,
    };
    if (message.key !== undefined) out.key = message.key;
    for (;;) {
      try {
        const producer = await this.producer(topic);
        await producer.send(out);
        this.options.stats.deadLettered += 1;
        this.options.logger.warn(
          { topic: message.topic, deadLetterTopic: topic, err: error.message },
          "record sent to the dead-letter topic",
        );
        return true;
      } catch (sendError) {
        this.options.stats.recordSystemException(sendError);
        // A producer whose topic was deleted, terminated or fenced never recovers: make a new one next time.
        await this.evict(topic);
        if (this.options.stopping()) return false;
        await sleep(backoff.next(), this.options.signal);
        if (this.options.stopping()) return false;
      }
    }
  }

  private producer(topic: string): Promise<ProducerLike> {
    let producer = this.producers.get(topic);
    if (!producer) {
      producer = this.options.pulsar.client.createProducer({ topic, batchingEnabled: false });
      this.producers.set(topic, producer);
    }
    return producer;
  }

  private async evict(topic: string): Promise<void> {
    const producer = this.producers.get(topic);
    this.producers.delete(topic);
    await producer?.then((p) => p.close()).catch(() => {});
  }

  async close(): Promise<void> {
    const producers = [...this.producers.values()];
    this.producers.clear();
    for (const producer of producers) await producer.then((p) => p.close()).catch(() => {});
  }
}
