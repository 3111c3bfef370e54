import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { endpointOf } from "./endpoints.ts";

/** The NATS server (JetStream on) that tooling/services started (or found) for this project. */
export function natsServers(): string {
  return endpointOf("nats").servers;
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
