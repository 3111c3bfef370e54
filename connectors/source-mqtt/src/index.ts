import { mqttSource } from "./definition.ts";

export { type MqttSourceConfig, mqttSourceConfig } from "./definition.ts";

export default mqttSource;
