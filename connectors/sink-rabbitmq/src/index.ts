import { rabbitmqSink } from "./definition.ts";

export { type RabbitmqSinkConfig, rabbitmqSinkConfig } from "./definition.ts";

export default rabbitmqSink;
