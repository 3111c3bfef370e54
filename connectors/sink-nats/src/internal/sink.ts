import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import type { RecordFailure, SinkContext, SinkInstance, SinkRecord, WriteOutcome } from "@pulsar-connect/core";
import { connectNats, toNatsError } from "@pulsar-connect/nats-common";
import type { NatsSinkConfig } from "../definition.ts";

/** NATS headers of a record: its properties, and its key as `Pulsar-Key`. */
export function recordHeaders(record: SinkRecord): MsgHdrs | undefined {
  const entries = Object.entries(record.properties);
  if (entries.length === 0 && record.key === undefined) return undefined;
  const result = natsHeaders();
  for (const [name, value] of entries) result.set(name, value);
  if (record.key !== undefined) result.set("Pulsar-Key", record.key);
  return result;
}

/**
 * JetStream: each publish waits for the stream's ack; the Pulsar message id is the JetStream message id, so the
 * stream drops a redelivered record within its duplicate window. Core: publish then flush (at most once).
 */
export class NatsSink implements SinkInstance {
  private readonly config: NatsSinkConfig;
  private readonly connection: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly describe: () => string;

  private constructor(config: NatsSinkConfig, connection: NatsConnection, describe: () => string) {
    this.config = config;
    this.connection = connection;
    this.describe = describe;
    this.js = jetstream(connection);
  }

  static async open(config: NatsSinkConfig, context: SinkContext): Promise<NatsSink> {
    const name = `pulsar-connect ${context.tenant}/${context.namespace}/${context.name}[${context.instanceId}]`;
    const { connection, describe } = await connectNats(config, name, context.logger);
    return new NatsSink(config, connection, describe);
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    if (this.config.mode === "core") {
      for (const record of records) {
        const h = recordHeaders(record);
        this.connection.publish(this.config.subject, record.data, h === undefined ? undefined : { headers: h });
      }
      try {
        await this.connection.flush();
      } catch (error) {
        throw toNatsError(error, `flush failed (${this.describe()})`);
      }
      return;
    }
    const failed: RecordFailure[] = [];
    for (let start = 0; start < records.length; start += this.config.maxInFlight) {
      const chunk = records.slice(start, start + this.config.maxInFlight);
      const outcomes = await Promise.allSettled(
        chunk.map((record) => {
          const h = recordHeaders(record);
          return this.js.publish(this.config.subject, record.data, {
            msgID: record.messageId,
            ...(h === undefined ? {} : { headers: h }),
          });
        }),
      );
      outcomes.forEach((outcome, offset) => {
        if (outcome.status === "rejected") {
          const reason = (outcome.reason as Error)?.message ?? String(outcome.reason);
          // The server answers "no responders" when no stream captures the subject; the client reports JetStream as off.
          const noStream = /no responders|503|jetstream is not enabled/i.test(reason);
          failed.push({
            index: start + offset,
            error: toNatsError(
              outcome.reason,
              noStream
                ? `no JetStream stream captures subject ${this.config.subject} (or JetStream is off on ${this.config.servers})`
                : `JetStream publish to ${this.config.subject} failed (${this.describe()})`,
            ),
          });
        }
      });
    }
    if (failed.length === 0) return;
    if (failed.length === records.length) throw failed[0]?.error;
    return { failed };
  }

  async close(): Promise<void> {
    await this.connection.drain().catch(() => this.connection.close());
  }
}
