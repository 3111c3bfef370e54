import { compatOnly, sensitive, z } from "@pulsar-connect/core";

/** The zod shape of the connection fields. */
export type RedisConnectionFields = {
  redisHosts: z.ZodString;
  redisPassword: z.ZodOptional<z.ZodString>;
  redisDatabase: z.ZodDefault<z.ZodNumber>;
  clientMode: z.ZodDefault<z.ZodEnum<{ Standalone: "Standalone"; Cluster: "Cluster" }>>;
  autoReconnect: z.ZodDefault<z.ZodBoolean>;
  requestQueue: z.ZodOptional<z.ZodNumber>;
  tcpNoDelay: z.ZodDefault<z.ZodBoolean>;
  keepAlive: z.ZodDefault<z.ZodBoolean>;
  connectTimeout: z.ZodDefault<z.ZodNumber>;
};

/** The validated connection fields. */
export interface RedisConnectionConfig {
  redisHosts: string;
  redisPassword?: string | undefined;
  redisDatabase: number;
  clientMode: "Standalone" | "Cluster";
  autoReconnect: boolean;
  requestQueue?: number | undefined;
  tcpNoDelay: boolean;
  keepAlive: boolean;
  connectTimeout: number;
}

/** Connection fields with the upstream names and defaults, to spread into a connector's config object. */
export const redisConnectionFields: RedisConnectionFields = {
  redisHosts: z
    .string()
    .regex(/^\s*[^\s,:]+:\d{1,5}\s*$/, "must be one host:port (clientMode Standalone)")
    .describe("Redis server, host:port"),
  redisPassword: sensitive(z.string().optional()).describe("Password (AUTH)"),
  redisDatabase: z.number().int().nonnegative().default(0).describe("Database number"),
  clientMode: z
    .enum(["Standalone", "Cluster"])
    .default("Standalone")
    .describe("Standalone; Cluster is refused (not supported yet)"),
  autoReconnect: z
    .boolean()
    .default(true)
    .describe("Reconnect with backoff after a lost connection; false: the instance fails and is restarted"),
  requestQueue: compatOnly(
    z.number().int().positive().optional(),
    "commands are not queued while disconnected: they fail at once and the runtime retries them with backoff",
  ).describe("Upstream bound of commands queued while disconnected"),
  tcpNoDelay: z.boolean().default(false).describe("Disable Nagle's algorithm on the connection"),
  keepAlive: z.boolean().default(false).describe("TCP keepalive probes on the connection"),
  connectTimeout: z.number().int().positive().default(10_000).describe("Connect timeout in milliseconds"),
};

/** Field issues shared by the Redis connectors' configs. */
export function checkRedisConnection(
  config: { clientMode: "Standalone" | "Cluster" },
  ctx: { addIssue(issue: { code: "custom"; path: string[]; message: string }): void },
): void {
  if (config.clientMode === "Cluster") {
    ctx.addIssue({
      code: "custom",
      path: ["clientMode"],
      message: "Cluster is not supported yet; use Standalone with one host:port",
    });
  }
}
