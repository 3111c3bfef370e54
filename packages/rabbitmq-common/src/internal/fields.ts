import { sensitive, z } from "@pulsar-connect/core";

type Text = z.ZodString;
type DefaultText = z.ZodDefault<z.ZodString>;
type DefaultInt = z.ZodDefault<z.ZodNumber>;

/** The zod shape of the connection fields. */
export type RabbitmqConnectionFields = {
  connectionName: DefaultText;
  host: Text;
  port: DefaultInt;
  virtualHost: DefaultText;
  username: DefaultText;
  password: DefaultText;
  requestedChannelMax: DefaultInt;
  requestedFrameMax: DefaultInt;
  connectionTimeout: DefaultInt;
  handshakeTimeout: DefaultInt;
  requestedHeartbeat: DefaultInt;
};

/** The validated connection fields. */
export interface RabbitmqConnectionConfig {
  connectionName: string;
  host: string;
  port: number;
  virtualHost: string;
  username: string;
  password: string;
  requestedChannelMax: number;
  requestedFrameMax: number;
  connectionTimeout: number;
  handshakeTimeout: number;
  requestedHeartbeat: number;
}

const count = () => z.number().int().nonnegative();

/** Connection fields with the upstream names and defaults, to spread into a connector's config object. */
export const rabbitmqConnectionFields: RabbitmqConnectionFields = {
  connectionName: z.string().default("").describe("Connection name shown by the broker (management UI, rabbitmqctl)"),
  host: z.string().min(1, "must name the RabbitMQ host").describe("RabbitMQ host"),
  port: z.number().int().min(1).max(65_535).default(5672).describe("RabbitMQ port"),
  virtualHost: z.string().min(1, "must not be empty").default("/").describe("Virtual host"),
  username: sensitive(z.string().default("guest")).describe("User name"),
  password: sensitive(z.string().default("guest")).describe("Password"),
  requestedChannelMax: count().max(65_535).default(0).describe("Channel limit asked of the broker, 0 = unlimited"),
  requestedFrameMax: count().default(0).describe("Frame size limit asked of the broker in bytes, 0 = unlimited"),
  connectionTimeout: count().default(60_000).describe("TCP connect timeout in milliseconds, 0 = none"),
  handshakeTimeout: count().default(10_000).describe("AMQP 0-9-1 handshake timeout in milliseconds, 0 = none"),
  requestedHeartbeat: count().default(60).describe("Heartbeat interval asked of the broker in seconds, 0 = none"),
};

/** Quorum queues are replicated and durable; classic ones are the broker's default. */
export type QueueType = "classic" | "quorum";

/** The `queueType` field (not upstream): the type a declared queue gets; only meaningful where one is declared. */
export const queueTypeField: z.ZodOptional<z.ZodEnum<{ classic: "classic"; quorum: "quorum" }>> = z
  .enum(["classic", "quorum"])
  .optional()
  .describe("Type of the queue the connector declares: classic (default) or quorum (replicated, always durable)");

/** Arguments that declare a queue of `type` (classic when not set). */
export function queueArguments(type: QueueType | undefined): Record<string, unknown> {
  return type === "quorum" ? { "x-queue-type": "quorum" } : {};
}
