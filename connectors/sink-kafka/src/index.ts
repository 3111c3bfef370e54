import { kafkaSink } from "./definition.ts";

export { isIdempotent, type KafkaSinkConfig, kafkaSinkConfig } from "./definition.ts";

export default kafkaSink;
