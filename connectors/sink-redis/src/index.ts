import { redisSink } from "./definition.ts";

export { type RedisSinkConfig, redisSinkConfig } from "./definition.ts";

export default redisSink;
