import { ConnectorError } from "@pulsar-connect/core";
import { Redis } from "ioredis";
import type { RedisConnectionConfig } from "./fields.ts";

/** host:port of the configured server. */
export function redisAddress(config: RedisConnectionConfig): string {
  return config.redisHosts.trim();
}

/**
 * An ioredis client for the upstream fields. Commands fail at once while disconnected (no offline queue), so the
 * runtime's retries and status carry the reason; reconnection runs in the background with capped backoff.
 */
export function createRedisClient(
  config: RedisConnectionConfig,
  connectionName: string,
  commandTimeout?: number,
): Redis {
  const [host, port] = redisAddress(config).split(":");
  const client = new Redis({
    host: host as string,
    port: Number(port),
    db: config.redisDatabase,
    ...(config.redisPassword ? { password: config.redisPassword } : {}),
    connectionName: connectionName.replace(/\s/g, "_"),
    connectTimeout: config.connectTimeout,
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
    noDelay: config.tcpNoDelay,
    keepAlive: config.keepAlive ? 10_000 : 0,
    enableOfflineQueue: false,
    lazyConnect: true,
    // RESP2: the reply shapes every Redis version gives (RESP3 needs Redis 6 and reshapes stream replies).
    protocol: 2,
    maxRetriesPerRequest: 0,
    retryStrategy: config.autoReconnect ? (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000) : () => null,
  });
  // Without a listener ioredis prints connection errors itself; they are kept for the next failing call instead.
  client.on("error", (error: Error) => lastErrors.set(client, error.message));
  client.on("ready", () => lastErrors.delete(client));
  return client;
}

const lastErrors = new WeakMap<Redis, string>();

/** Connects (or waits for the reconnection in progress); failures are retryable CONNECTION_FAILED. */
export async function ensureConnected(client: Redis, config: RedisConnectionConfig): Promise<void> {
  if (client.status === "ready") return;
  if (client.status === "end" && !config.autoReconnect) {
    throw new ConnectorError(
      "FATAL",
      `the connection to Redis at ${redisAddress(config)} ended (autoReconnect false)`,
      {
        retryable: false,
      },
    );
  }
  if (client.status === "wait" || client.status === "end") {
    try {
      await client.connect();
      return;
    } catch (error) {
      throw toRedisError(error, `cannot connect to Redis at ${redisAddress(config)}`);
    }
  }
  throw new ConnectorError(
    "CONNECTION_FAILED",
    `Redis at ${redisAddress(config)} is not connected (${client.status}: ${lastErrors.get(client) ?? "no answer yet"})`,
    { retryable: true },
  );
}

const TRANSIENT_REPLY = /^(OOM|LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * A ConnectorError for the server's error reply to one command: WRITE_FAILED, retryable only for the replies of a
 * server that is busy or starting (OOM, LOADING, BUSY, READONLY...); others (WRONGTYPE...) will not change.
 */
export function toReplyError(error: Error, what: string): ConnectorError {
  if (error.name !== "ReplyError") return toRedisError(error, what);
  return new ConnectorError("WRITE_FAILED", `${what}: ${error.message}`, {
    retryable: TRANSIENT_REPLY.test(error.message),
    cause: error,
  });
}

/** A ConnectorError for a Redis failure: authentication is permanent, the rest retryable. */
export function toRedisError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = `${what}: ${(error as Error)?.message ?? String(error)}`;
  if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return new ConnectorError("AUTH_FAILED", message, { retryable: false, cause: error });
  }
  return new ConnectorError("CONNECTION_FAILED", message, { retryable: true, cause: error });
}
