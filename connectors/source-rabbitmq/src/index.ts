import { rabbitmqSource } from "./definition.ts";

export { type RabbitmqSourceConfig, rabbitmqSourceConfig } from "./definition.ts";

export default rabbitmqSource;
