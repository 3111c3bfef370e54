import { PulsarAdmin, type PulsarClient } from "@pulsar-connect/pulsar-client";
import { pulsarEndpoints, uniqueName } from "./endpoints.ts";

/** The admin client of the project's Pulsar broker. */
export function testAdmin(): PulsarAdmin {
  return new PulsarAdmin({ serviceUrl: pulsarEndpoints().adminUrl });
}

/** A new namespace under `public`, with broker deduplication on when asked (EFFECTIVELY_ONCE needs it). */
export async function createTestNamespace(prefix: string, options: { deduplication?: boolean } = {}): Promise<string> {
  const namespace = `public/${uniqueName(prefix).replaceAll("_", "-")}`;
  const admin = testAdmin();
  await admin.createNamespace(namespace);
  if (options.deduplication) await admin.setDeduplication(namespace, true);
  return namespace;
}

/**
 * The `id` field of the JSON value of every message in `topic`, in order, read from the earliest position until no
 * message came for `idleMs`.
 */
export async function idsIn(client: PulsarClient, topic: string, idleMs: number): Promise<number[]> {
  const consumer = await client.subscribe({
    topic,
    subscription: uniqueName("check"),
    subscriptionInitialPosition: "Earliest",
  });
  const ids: number[] = [];
  try {
    for (;;) {
      const message = await consumer.receive(idleMs).catch(() => undefined);
      if (!message) break;
      ids.push((JSON.parse(Buffer.from(message.data).toString()) as { id: number }).id);
      await consumer.acknowledge(message);
    }
  } finally {
    await consumer.close();
  }
  return ids;
}
