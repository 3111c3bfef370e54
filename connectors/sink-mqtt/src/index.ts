import { mqttSink } from "./definition.ts";

export { type MqttSinkConfig, mqttSinkConfig } from "./definition.ts";

export default mqttSink;
