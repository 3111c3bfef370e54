import { Redis } from "ioredis";
import { endpointOf } from "./endpoints.ts";

/** host:port of the Redis server that tooling/services started (or found) for this project. */
export function redisHosts(): string {
  const redis = endpointOf("redis");
  return `${redis.host}:${redis.port}`;
}

/** A client for preparing and checking data. */
export function testRedis(hosts: string = redisHosts()): Redis {
  const [host, port] = hosts.split(":");
  return new Redis({ host: host as string, port: Number(port), lazyConnect: false, maxRetriesPerRequest: 1 });
}
