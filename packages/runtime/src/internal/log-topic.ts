import type { LogFields, Logger } from "@pulsar-connect/core/host";
import type { ClientLike, ProducerLike } from "./pulsar.ts";

/** Log lines waiting for the broker before new ones are dropped (a log topic must never hold an instance back). */
const MAX_PENDING = 1000;

type Level = "debug" | "info" | "warn" | "error";
const LEVEL_NAMES: Record<Level, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

/**
 * Publishes an instance's log lines to its `logTopic` the way upstream's log appender does: the formatted message
 * as the value, with `loglevel`, `instance` and `fqn` properties, from a producer whose `function` property is the
 * connector's fully qualified name. Lines still go to the worker's log as well. Debug lines are not published
 * (upstream's instance log level is INFO).
 */
export class LogTopicPublisher {
  private producer: Promise<ProducerLike> | undefined;
  private pending = 0;
  private closed = false;
  /** Lines dropped because the topic could not keep up or could not be written. */
  dropped = 0;

  private readonly client: ClientLike;
  private readonly topic: string;
  private readonly fqn: string;
  private readonly instance: string;
  private readonly fallback: Logger;

  constructor(client: ClientLike, topic: string, fqn: string, instance: string, fallback: Logger) {
    this.client = client;
    this.topic = topic;
    this.fqn = fqn;
    this.instance = instance;
    this.fallback = fallback;
  }

  /** A logger that writes to `base` and publishes to the log topic. */
  wrap(base: Logger): Logger {
    const line =
      (level: Level) =>
      (fields: LogFields | string, message?: string): void => {
        base[level](fields, message);
        if (level !== "debug") this.publish(level, fields, message);
      };
    return {
      debug: line("debug"),
      info: line("info"),
      warn: line("warn"),
      error: line("error"),
      child: (bindings) => this.wrap(base.child(bindings)),
    };
  }

  private publish(level: Level, fields: LogFields | string, message: string | undefined): void {
    if (this.closed) return;
    if (this.pending >= MAX_PENDING) {
      this.dropped += 1;
      return;
    }
    const text =
      typeof fields === "string"
        ? fields
        : Object.keys(fields).length > 0
          ? `${message ?? ""} ${JSON.stringify(fields, (_key, value) => (typeof value === "bigint" ? String(value) : value))}`.trim()
          : (message ?? "");
    this.pending += 1;
    this.producer ??= this.client.createProducer({
      topic: this.topic,
      batchingEnabled: true,
      batchingMaxPublishDelayMs: 100,
      compressionType: "LZ4",
      properties: { function: this.fqn },
    });
    this.producer
      .then((producer) =>
        producer.send({
          value: text,
          properties: { loglevel: LEVEL_NAMES[level], instance: this.instance, fqn: this.fqn },
        }),
      )
      .catch((error: unknown) => {
        this.dropped += 1;
        if (this.dropped === 1) {
          this.fallback.warn({ logTopic: this.topic, error: String(error) }, "log lines cannot be published");
        }
      })
      .finally(() => {
        this.pending -= 1;
      });
  }

  /** Flushes what is pending and closes the producer. */
  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (!producer) return;
    await producer
      .then(async (p) => {
        await p.flush().catch(() => {});
        await p.close();
      })
      .catch(() => {});
  }
}
