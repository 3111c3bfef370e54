import { cassandraSink } from "./definition.ts";

export { type CassandraSinkConfig, CONSISTENCY_LEVELS, cassandraSinkConfig } from "./definition.ts";

export default cassandraSink;
