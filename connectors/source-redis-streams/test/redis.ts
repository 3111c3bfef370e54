import { Redis } from "ioredis";
import { inject } from "vitest";

const services = () =>
  inject("services" as never) as {
    pulsar?: { serviceUrl: string; webServiceUrl: string };
    redis?: { host: string; port: number };
  };

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = services().pulsar;
  return {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

/** host:port of the Redis server that tooling/services started (or found) for this project. */
export function redisHosts(): string {
  const redis = services().redis;
  return `${redis?.host ?? "127.0.0.1"}:${redis?.port ?? 6379}`;
}

/** A client for preparing and checking data. */
export function testRedis(hosts: string = redisHosts()): Redis {
  const [host, port] = hosts.split(":");
  return new Redis({ host: host as string, port: Number(port), lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** A name nobody else uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}
