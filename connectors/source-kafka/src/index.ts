import { kafkaSource } from "./definition.ts";

export { type KafkaSourceConfig, kafkaSourceConfig } from "./definition.ts";

export default kafkaSource;
