export { createRedisClient, ensureConnected, redisAddress, toRedisError, toReplyError } from "./internal/client.ts";
export {
  checkRedisConnection,
  type RedisConnectionConfig,
  type RedisConnectionFields,
  redisConnectionFields,
} from "./internal/fields.ts";
