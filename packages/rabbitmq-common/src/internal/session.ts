import { ConnectorError, type Logger } from "@pulsar-connect/core";
import amqp from "amqplib";
import type { RabbitmqConnectionConfig } from "./fields.ts";

/** Where the connector connects, without credentials (for messages and logs). */
export function brokerAddress(config: RabbitmqConnectionConfig): string {
  return `${config.host}:${config.port}${config.virtualHost === "/" ? "" : `/${config.virtualHost}`}`;
}

/** Opens an AMQP connection with the upstream connection fields; failures are retryable CONNECTION_FAILED. */
export async function connectRabbitmq(
  config: RabbitmqConnectionConfig,
  clientName: string,
): Promise<amqp.ChannelModel> {
  const connecting = amqp.connect(
    {
      protocol: "amqp",
      hostname: config.host,
      port: config.port,
      username: config.username,
      password: config.password,
      vhost: config.virtualHost,
      frameMax: config.requestedFrameMax,
      channelMax: config.requestedChannelMax,
      heartbeat: config.requestedHeartbeat,
    },
    {
      ...(config.connectionTimeout > 0 ? { timeout: config.connectionTimeout } : {}),
      clientProperties: { connection_name: config.connectionName || clientName },
    },
  );
  const limit = config.connectionTimeout > 0 && config.handshakeTimeout > 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    const connection = await (limit
      ? Promise.race([
          connecting,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(new Error(`no AMQP handshake within ${config.connectionTimeout + config.handshakeTimeout} ms`)),
              config.connectionTimeout + config.handshakeTimeout,
            );
          }),
        ])
      : connecting);
    return connection;
  } catch (error) {
    // A connection that completes after the timeout must not linger.
    void connecting.then((late) => late.close()).catch(() => {});
    throw toRabbitmqError(error, `cannot connect to RabbitMQ at ${brokerAddress(config)}`);
  } finally {
    clearTimeout(timer);
  }
}

const AUTH_HINT = /ACCESS_REFUSED|PLAIN login refused|authentication/i;
const NOT_FOUND = /NOT_FOUND/;

/** A ConnectorError for an AMQP failure: AUTH_FAILED and NOT_FOUND are permanent, the rest retryable. */
export function toRabbitmqError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = `${what}: ${(error as Error)?.message ?? String(error)}`;
  if (AUTH_HINT.test(message)) return new ConnectorError("AUTH_FAILED", message, { retryable: false, cause: error });
  if (NOT_FOUND.test(message)) return new ConnectorError("NOT_FOUND", message, { retryable: false, cause: error });
  return new ConnectorError("CONNECTION_FAILED", message, { retryable: true, cause: error });
}

/**
 * One connection and channel at a time. A closed connection or channel marks the session broken; the next
 * `current()` opens a new one, so callers retry through the runtime's backoff and status shows the reason.
 */
export class RabbitmqSession<C extends amqp.Channel> {
  private live: { connection: amqp.ChannelModel; channel: C; generation: number } | undefined;
  private opening: Promise<{ channel: C; generation: number }> | undefined;
  private generation = 0;
  private closed = false;
  /** Why the last channel ended, for the error of the next failing call. */
  lastFailure: string | undefined;

  private readonly config: RabbitmqConnectionConfig;
  private readonly clientName: string;
  private readonly logger: Logger;
  private readonly openChannel: (connection: amqp.ChannelModel) => Promise<C>;
  private readonly prepare: (channel: C, generation: number) => Promise<void>;

  /** `prepare` declares queues/exchanges and starts consumers on each fresh channel. */
  constructor(
    config: RabbitmqConnectionConfig,
    clientName: string,
    logger: Logger,
    openChannel: (connection: amqp.ChannelModel) => Promise<C>,
    prepare: (channel: C, generation: number) => Promise<void>,
  ) {
    this.config = config;
    this.clientName = clientName;
    this.logger = logger;
    this.openChannel = openChannel;
    this.prepare = prepare;
  }

  /** Generation of the live channel (delivery tags of an older one must not be acked on it). */
  isLive(generation: number): boolean {
    return this.live?.generation === generation;
  }

  async current(): Promise<{ channel: C; generation: number }> {
    if (this.closed) throw new ConnectorError("CLOSED", "the RabbitMQ session is closed", { retryable: false });
    if (this.live) return this.live;
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<{ channel: C; generation: number }> {
    const connection = await connectRabbitmq(this.config, this.clientName);
    const generation = ++this.generation;
    const broken = (reason: string) => {
      if (this.live?.generation !== generation) return;
      this.live = undefined;
      this.lastFailure = reason;
      if (!this.closed) this.logger.warn({ reason }, "RabbitMQ connection lost; reconnecting on the next call");
      void connection.close().catch(() => {});
    };
    connection.on("error", (error: Error) => broken(`connection error: ${error.message}`));
    connection.on("close", (error?: Error) => broken(`connection closed${error ? `: ${error.message}` : ""}`));
    connection.on("blocked", (reason: string) => this.logger.warn({ reason }, "RabbitMQ blocked the connection"));
    try {
      const channel = await this.openChannel(connection);
      channel.on("error", (error: Error) => broken(`channel error: ${error.message}`));
      channel.on("close", () => broken("channel closed"));
      this.live = { connection, channel, generation };
      await this.prepare(channel, generation);
      return this.live;
    } catch (error) {
      this.live = undefined;
      await connection.close().catch(() => {});
      throw toRabbitmqError(error, `cannot set up the channel on ${brokerAddress(this.config)}`);
    }
  }

  /** Drops the live connection (after a failure the caller noticed first). */
  reset(reason: string): void {
    const live = this.live;
    this.live = undefined;
    this.lastFailure = reason;
    if (live) void live.connection.close().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => {});
    const live = this.live;
    this.live = undefined;
    if (live) {
      await live.channel.close().catch(() => {});
      await live.connection.close().catch(() => {});
    }
  }
}
