import { join } from "node:path";
import { ServicesError } from "./errors.ts";

export const SERVICE_NAMES = [
  "pulsar",
  "kafka",
  "cassandra",
  "postgres",
  "postgres-logical",
  "mariadb",
  "s3proxy",
  "redis",
  "rabbitmq",
  "nats",
  "mosquitto",
  "influxdb",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
export type JvmServiceName = "pulsar" | "kafka" | "cassandra" | "s3proxy";
/** Servers run from their Debian package's binary in a folder of their own. */
export type DaemonServiceName = "redis" | "rabbitmq" | "nats" | "mosquitto" | "influxdb";

/** Servers bind and advertise an IPv4 literal: `localhost` may resolve to ::1. */
export const HOST = "127.0.0.1";

export const repoRoot: string = join(import.meta.dirname, "../../../..");
export const serversDir: string = join(repoRoot, "tooling/services/servers");

export function runRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.PC_SERVICES_RUN ?? join(repoRoot, ".run/services");
}

/** Same location as fetch-jars.sh writes to. */
export function jarsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.PC_SERVICES_JARS ?? join(repoRoot, ".run/jars");
}

export function isServiceName(value: string): value is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(value);
}

export function parseServiceNames(values: readonly string[]): ServiceName[] {
  const unknown = values.filter((value) => !isServiceName(value));
  if (unknown.length > 0) {
    throw new ServicesError(
      "UNKNOWN_SERVICE",
      `unknown service ${unknown.map((u) => JSON.stringify(u)).join(", ")}; known: ${SERVICE_NAMES.join(", ")}`,
    );
  }
  // Keep the canonical order (pulsar first) and drop duplicates.
  return SERVICE_NAMES.filter((name) => values.includes(name));
}

export function portFromEnv(env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ServicesError("BAD_PORT", `${variable}=${JSON.stringify(raw)} is not a TCP port (1-65535)`);
  }
  return port;
}

export interface PulsarPorts {
  broker: number;
  web: number;
  bookie: number;
}
export interface KafkaPorts {
  broker: number;
  controller: number;
}
export interface CassandraPorts {
  native: number;
  storage: number;
}
export interface DatabasePorts {
  port: number;
}
export interface S3proxyPorts {
  port: number;
}
export interface RabbitmqPorts {
  port: number;
  /** Erlang distribution port (rabbitmqctl talks to the node through it). */
  dist: number;
}

export interface InfluxdbPorts {
  /** HTTP API. */
  port: number;
  /** Backup/restore RPC service (influxd always binds it). */
  rpc: number;
}

export interface ServicePorts {
  pulsar: PulsarPorts;
  kafka: KafkaPorts;
  cassandra: CassandraPorts;
  postgres: DatabasePorts;
  "postgres-logical": DatabasePorts;
  mariadb: DatabasePorts;
  s3proxy: S3proxyPorts;
  redis: DatabasePorts;
  rabbitmq: RabbitmqPorts;
  nats: DatabasePorts;
  mosquitto: DatabasePorts;
  influxdb: InfluxdbPorts;
}

export function servicePorts<N extends ServiceName>(name: N, env: NodeJS.ProcessEnv = process.env): ServicePorts[N] {
  const all = {
    pulsar: () => ({
      broker: portFromEnv(env, "PULSAR_BROKER_PORT", 6650),
      web: portFromEnv(env, "PULSAR_WEB_PORT", 8080),
      bookie: portFromEnv(env, "PULSAR_BOOKIE_PORT", 3181),
    }),
    kafka: () => ({
      broker: portFromEnv(env, "KAFKA_PORT", 9092),
      controller: portFromEnv(env, "KAFKA_CONTROLLER_PORT", 9093),
    }),
    cassandra: () => ({
      native: portFromEnv(env, "CASSANDRA_PORT", 9042),
      storage: portFromEnv(env, "CASSANDRA_STORAGE_PORT", 7000),
    }),
    postgres: () => ({ port: portFromEnv(env, "PGPORT", 5432) }),
    "postgres-logical": () => ({ port: portFromEnv(env, "PG_LOGICAL_PORT", 7532) }),
    mariadb: () => ({ port: portFromEnv(env, "MARIADB_PORT", 3306) }),
    s3proxy: () => ({ port: portFromEnv(env, "S3PROXY_PORT", 7600) }),
    redis: () => ({ port: portFromEnv(env, "REDIS_PORT", 6379) }),
    rabbitmq: () => ({
      port: portFromEnv(env, "RABBITMQ_PORT", 5672),
      dist: portFromEnv(env, "RABBITMQ_DIST_PORT", 25672),
    }),
    nats: () => ({ port: portFromEnv(env, "NATS_PORT", 4222) }),
    mosquitto: () => ({ port: portFromEnv(env, "MQTT_PORT", 1883) }),
    influxdb: () => ({
      port: portFromEnv(env, "INFLUXDB_PORT", 8086),
      rpc: portFromEnv(env, "INFLUXDB_RPC_PORT", 8088),
    }),
  } satisfies { [K in ServiceName]: () => ServicePorts[K] };
  return all[name]() as ServicePorts[N];
}

/** Fills `${NAME}` placeholders; a placeholder without a value is an error, never an empty string. */
export function renderTemplate(template: string, values: Readonly<Record<string, string | number>>): string {
  return template.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) {
      throw new ServicesError("TEMPLATE_VARIABLE_MISSING", `template placeholder \${${key}} has no value`);
    }
    return String(value);
  });
}
