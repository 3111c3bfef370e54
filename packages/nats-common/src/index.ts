export {
  checkNatsConnection,
  connectNats,
  type NatsConnectionConfig,
  type NatsConnectionFields,
  natsConnectionFields,
  serverList,
  toNatsError,
} from "./internal/connection.ts";
