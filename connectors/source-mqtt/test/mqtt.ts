import mqtt, { type MqttClient } from "mqtt";
import { inject } from "vitest";

const services = () =>
  inject("services" as never) as {
    pulsar?: { serviceUrl: string; webServiceUrl: string };
    mosquitto?: { url: string };
  };

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = services().pulsar;
  return {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

/** URL of the Mosquitto broker that tooling/services started (or found) for this project. */
export function brokerUrl(): string {
  return services().mosquitto?.url ?? "mqtt://127.0.0.1:1883";
}

/** A name nobody else uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
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
