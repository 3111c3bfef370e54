export {
  clientIdFor,
  type MqttConnectionConfig,
  type MqttConnectionFields,
  mqttClientOptions,
  mqttConnectionFields,
  toMqttError,
} from "./internal/connection.ts";
