import mqtt, { type MqttClient } from "mqtt";
import { endpointOf } from "./endpoints.ts";

/** URL of the Mosquitto broker that tooling/services started (or found) for this project. */
export function brokerUrl(): string {
  return endpointOf("mosquitto").url;
}

/** A subscriber that keeps every message of `topic` (QoS 1) until closed. */
export async function collect(
  url: string,
  topic: string,
  options: mqtt.IClientOptions = {},
): Promise<{ messages: mqtt.IPublishPacket[]; client: MqttClient }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, ...options });
  const messages: mqtt.IPublishPacket[] = [];
  client.on("message", (_topic, _payload, packet) => messages.push(packet));
  await client.subscribeAsync(topic, { qos: 1 });
  return { messages, client };
}
