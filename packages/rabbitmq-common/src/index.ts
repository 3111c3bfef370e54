export {
  type QueueType,
  queueArguments,
  queueTypeField,
  type RabbitmqConnectionConfig,
  type RabbitmqConnectionFields,
  rabbitmqConnectionFields,
} from "./internal/fields.ts";
export { brokerAddress, connectRabbitmq, RabbitmqSession, toRabbitmqError } from "./internal/session.ts";
