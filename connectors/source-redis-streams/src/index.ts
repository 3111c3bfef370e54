import { redisStreamSource } from "./definition.ts";

export { type RedisStreamSourceConfig, redisStreamSourceConfig } from "./definition.ts";

export default redisStreamSource;
