import { testKafka } from "@pulsar-connect/kafka-common/testing";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import type kafkajs from "kafkajs";
import { afterAll, beforeAll } from "vitest";

/** Sum over partitions of the group's committed offsets. */
export async function committed(kafkaAdmin: kafkajs.Admin, groupId: string, topic: string): Promise<number> {
  const [entry] = await kafkaAdmin.fetchOffsets({ groupId, topics: [topic] });
  return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
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
