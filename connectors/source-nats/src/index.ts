import { natsSource } from "./definition.ts";

export { type NatsSourceConfig, natsSourceConfig } from "./definition.ts";

export default natsSource;
