import { ConnectorError, sensitive, z } from "@pulsar-connect/core";
import type { IClientOptions } from "mqtt";

/** The zod shape of the connection fields. */
export type MqttConnectionFields = {
  brokerUrl: z.ZodString;
  clientId: z.ZodOptional<z.ZodString>;
  username: z.ZodOptional<z.ZodString>;
  password: z.ZodOptional<z.ZodString>;
  protocolVersion: z.ZodDefault<z.ZodUnion<readonly [z.ZodLiteral<4>, z.ZodLiteral<5>]>>;
  keepAliveSec: z.ZodDefault<z.ZodNumber>;
  connectTimeoutMs: z.ZodDefault<z.ZodNumber>;
};

/** The validated connection fields. */
export interface MqttConnectionConfig {
  brokerUrl: string;
  clientId?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  protocolVersion: 4 | 5;
  keepAliveSec: number;
  connectTimeoutMs: number;
}

/** Connection fields, to spread into a connector's config object. */
export const mqttConnectionFields: MqttConnectionFields = {
  brokerUrl: z
    .string()
    .regex(/^(mqtt|mqtts|tcp|ssl):\/\/[^\s/]+$/, "must be mqtt://host:port or mqtts://host:port")
    .describe("Broker URL, mqtt://host:port (mqtts:// for TLS)"),
  clientId: z
    .string()
    .min(1)
    .max(65_535)
    .optional()
    .describe("Client identifier; default from the connector name and instance (stable across restarts)"),
  username: sensitive(z.string().optional()).describe("User name"),
  password: sensitive(z.string().optional()).describe("Password"),
  protocolVersion: z
    .union([z.literal(4), z.literal(5)])
    .default(4)
    .describe("MQTT protocol level: 4 = MQTT 3.1.1, 5 = MQTT 5"),
  keepAliveSec: z.number().int().nonnegative().max(65_535).default(60).describe("Keep-alive interval in seconds"),
  connectTimeoutMs: z.number().int().positive().default(30_000).describe("Connect timeout in milliseconds"),
};

/** mqtt.js options for the connection fields; reconnection every second, handled by mqtt.js. */
export function mqttClientOptions(config: MqttConnectionConfig, defaultClientId: string): IClientOptions {
  return {
    clientId: config.clientId ?? defaultClientId,
    protocolVersion: config.protocolVersion,
    keepalive: config.keepAliveSec,
    connectTimeout: config.connectTimeoutMs,
    reconnectPeriod: 1_000,
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
  };
}

/** A ConnectorError for an MQTT failure: refused credentials are permanent, the rest retryable. */
export function toMqttError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = `${what}: ${(error as Error)?.message ?? String(error)}`;
  if (/Not authorized|Bad username or password|not authori[sz]ed/i.test(message)) {
    return new ConnectorError("AUTH_FAILED", message, { retryable: false, cause: error });
  }
  return new ConnectorError("CONNECTION_FAILED", message, { retryable: true, cause: error });
}

/** A client id MQTT brokers accept from a connector identity (letters, digits, dashes). */
export function clientIdFor(parts: Array<string | number>): string {
  return parts
    .join("-")
    .replace(/[^A-Za-z0-9-]/g, "-")
    .slice(0, 64);
}
