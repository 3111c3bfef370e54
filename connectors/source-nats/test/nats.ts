import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { inject } from "vitest";

const services = () =>
  inject("services" as never) as {
    pulsar?: { serviceUrl: string; webServiceUrl: string };
    nats?: { servers: string };
  };

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = services().pulsar;
  return {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

/** The NATS server (JetStream on) that tooling/services started (or found) for this project. */
export function natsServers(): string {
  return services().nats?.servers ?? "nats://127.0.0.1:4222";
}

/** A name nobody else uses (letters, digits and dashes: valid for streams, consumers and subjects). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}

export async function withNats<T>(servers: string, use: (connection: NatsConnection) => Promise<T>): Promise<T> {
  const connection = await connect({ servers });
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

/** Creates a file-backed stream capturing `subject`. */
export async function createStream(servers: string, stream: string, subject: string): Promise<void> {
  await withNats(servers, async (connection) => {
    const jsm = await jetstreamManager(connection);
    await jsm.streams.add({ name: stream, subjects: [subject] });
  });
}

/** Every message a stream holds, in order (payloads as text). */
export async function streamContents(
  servers: string,
  stream: string,
): Promise<Array<{ data: string; headers: Record<string, string> }>> {
  return withNats(servers, async (connection) => {
    const jsm = await jetstreamManager(connection);
    const info = await jsm.streams.info(stream);
    const out: Array<{ data: string; headers: Record<string, string> }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq += 1) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (!message) continue;
      const headers: Record<string, string> = {};
      for (const [name, values] of message.header ?? []) headers[name] = values[0] ?? "";
      out.push({ data: new TextDecoder().decode(message.data), headers });
    }
    return out;
  });
}
