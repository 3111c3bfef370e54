import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ConnectorError, type Logger, sensitive, z } from "@pulsar-connect/core";

/** The zod shape of the connection fields. */
export type NatsConnectionFields = {
  servers: z.ZodString;
  username: z.ZodOptional<z.ZodString>;
  password: z.ZodOptional<z.ZodString>;
  token: z.ZodOptional<z.ZodString>;
  connectionName: z.ZodOptional<z.ZodString>;
  connectTimeoutMs: z.ZodDefault<z.ZodNumber>;
};

/** The validated connection fields. */
export interface NatsConnectionConfig {
  servers: string;
  username?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  connectionName?: string | undefined;
  connectTimeoutMs: number;
}

/** Connection fields, to spread into a connector's config object. */
export const natsConnectionFields: NatsConnectionFields = {
  servers: z
    .string()
    .regex(/^\s*(nats:\/\/)?[^\s,]+(\s*,\s*(nats:\/\/)?[^\s,]+)*\s*$/, "must list servers, nats://host:port,...")
    .describe("NATS servers, nats://host:port separated by commas"),
  username: sensitive(z.string().optional()).describe("User name"),
  password: sensitive(z.string().optional()).describe("Password"),
  token: sensitive(z.string().optional()).describe("Authentication token (instead of user name and password)"),
  connectionName: z.string().optional().describe("Client name shown by the server; default from the connector"),
  connectTimeoutMs: z.number().int().positive().default(10_000).describe("Connect timeout in milliseconds"),
};

/** Field issues shared by the NATS connectors' configs. */
export function checkNatsConnection(
  config: { username?: string | undefined; password?: string | undefined; token?: string | undefined },
  ctx: { addIssue(issue: { code: "custom"; path: string[]; message: string }): void },
): void {
  if ((config.username === undefined) !== (config.password === undefined)) {
    ctx.addIssue({ code: "custom", path: ["password"], message: "username and password go together" });
  }
  if (config.token !== undefined && config.username !== undefined) {
    ctx.addIssue({ code: "custom", path: ["token"], message: "use either token or username/password" });
  }
}

export function serverList(config: NatsConnectionConfig): string[] {
  return config.servers.split(",").map((server) => server.trim());
}

/**
 * Connects with reconnection forever (capped wait between attempts): while it is down, operations fail and the
 * runtime retries them; `describe()` says what the connection is doing, for those errors.
 */
export async function connectNats(
  config: NatsConnectionConfig,
  clientName: string,
  logger: Logger,
): Promise<{ connection: NatsConnection; describe(): string; connected(): boolean }> {
  let last = "connected";
  let connection: NatsConnection;
  try {
    connection = await connect({
      servers: serverList(config),
      name: config.connectionName ?? clientName,
      timeout: config.connectTimeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      ...(config.username === undefined ? {} : { user: config.username, pass: config.password }),
      ...(config.token === undefined ? {} : { token: config.token }),
    });
  } catch (error) {
    throw toNatsError(error, `cannot connect to NATS at ${config.servers}`);
  }
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect" || status.type === "reconnecting" || status.type === "error") {
        last = `${status.type}${"error" in status && status.error ? `: ${(status.error as Error).message}` : ""}`;
        if (status.type === "disconnect")
          logger.warn({ servers: config.servers }, "NATS connection lost; reconnecting");
      } else if (status.type === "reconnect") {
        last = "connected";
        logger.info({ servers: config.servers }, "NATS connection back");
      }
    }
  })().catch(() => {});
  return { connection, describe: () => `NATS at ${config.servers}: ${last}`, connected: () => last === "connected" };
}

/** A ConnectorError for a NATS failure: authorization and missing streams are permanent, the rest retryable. */
export function toNatsError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = `${what}: ${(error as Error)?.message ?? String(error)}`;
  if (/authori[sz]ation|authentication/i.test(message)) {
    return new ConnectorError("AUTH_FAILED", message, { retryable: false, cause: error });
  }
  if (/stream not found|consumer not found/i.test(message)) {
    return new ConnectorError("NOT_FOUND", message, { retryable: false, cause: error });
  }
  return new ConnectorError("CONNECTION_FAILED", message, { retryable: true, cause: error });
}
