import type { RabbitmqEndpoint } from "@pulsar-connect/services";
import amqp from "amqplib";
import { endpointOf } from "./endpoints.ts";

/** The RabbitMQ server that tooling/services started (or found) for this project. */
export function rabbitmq(): RabbitmqEndpoint {
  return endpointOf("rabbitmq");
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
