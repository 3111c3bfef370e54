import { aerospikeSink } from "./definition.ts";

export { type AerospikeSinkConfig, aerospikeSinkConfig } from "./definition.ts";

export default aerospikeSink;
