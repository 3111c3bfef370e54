import amqp from "amqplib";
import { inject } from "vitest";

const services = () =>
  inject("services" as never) as {
    pulsar?: { serviceUrl: string; webServiceUrl: string };
    rabbitmq?: { host: string; port: number; url: string };
  };

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = services().pulsar;
  return {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

/** The RabbitMQ server that tooling/services started (or found) for this project. */
export function rabbitmq(): { host: string; port: number; url: string } {
  return services().rabbitmq ?? { host: "127.0.0.1", port: 5672, url: "amqp://guest:guest@127.0.0.1:5672" };
}

/** A name nobody else uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Every message in a queue, without consuming it: each is fetched unacknowledged and the channel is closed after,
 * which puts them all back.
 */
export async function peekQueue(url: string, queue: string): Promise<amqp.GetMessage[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const messages: amqp.GetMessage[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) break;
      messages.push(message);
    }
    await channel.close();
    return messages;
  } finally {
    await connection.close();
  }
}
