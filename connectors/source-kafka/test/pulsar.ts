import { testKafka } from "@pulsar-connect/kafka-common/testing";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import type kafkajs from "kafkajs";
import { afterAll, beforeAll, inject } from "vitest";

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const services = inject("services" as never) as { pulsar?: { serviceUrl: string; webServiceUrl: string } };
  return {
    serviceUrl: services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

/** A call of the Pulsar admin REST API at `adminUrl` that throws on any status of 300 or above. */
export function pulsarAdmin(adminUrl: string): (method: string, path: string, body?: unknown) => Promise<void> {
  return async (method, path, body) => {
    const init: RequestInit = { method, headers: { "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${adminUrl}${path}`, init);
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
}

/** Sum over partitions of the group's committed offsets. */
export async function committed(kafkaAdmin: kafkajs.Admin, groupId: string, topic: string): Promise<number> {
  const [entry] = await kafkaAdmin.fetchOffsets({ groupId, topics: [topic] });
  return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** The `id` of every message in `topic`, in order; reads until no message came for `idleMs`. */
export async function idsIn(client: PulsarClient, topic: string, idleMs: number): Promise<number[]> {
  const consumer = await client.subscribe({
    topic,
    subscription: `check-${Date.now()}`,
    subscriptionInitialPosition: "Earliest",
  });
  const ids: number[] = [];
  try {
    for (;;) {
      const message = await consumer.receive(idleMs).catch(() => undefined);
      if (!message) break;
      ids.push((JSON.parse(message.data.toString()) as { id: number }).id);
      await consumer.acknowledge(message);
    }
  } finally {
    await consumer.close();
  }
  return ids;
}

/** What a test file of the project's Kafka and Pulsar servers works with. */
export interface KafkaToPulsar {
  kafka: kafkajs.Kafka;
  /** Connected in beforeAll, disconnected in afterAll. */
  kafkaAdmin: kafkajs.Admin;
  adminUrl: string;
  /** The Pulsar client of the file (created in beforeAll, closed in afterAll). */
  client(): PulsarClient;
}

/** Call at the top level of a test file: a Kafka admin and a Pulsar client, opened before its tests, closed after. */
export function kafkaToPulsar(kafkaClientId: string): KafkaToPulsar {
  const { serviceUrl, adminUrl } = pulsarEndpoints();
  const kafka = testKafka(kafkaClientId);
  const kafkaAdmin = kafka.admin();
  let client: PulsarClient | undefined;
  beforeAll(async () => {
    client = new PulsarClient({ serviceUrl });
    await kafkaAdmin.connect();
  });
  afterAll(async () => {
    await client?.close();
    await kafkaAdmin.disconnect();
  });
  return {
    kafka,
    kafkaAdmin,
    adminUrl,
    client() {
      if (!client) throw new Error("the Pulsar client is created in beforeAll");
      return client;
    },
  };
}
