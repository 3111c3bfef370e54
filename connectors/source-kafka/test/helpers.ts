import type { SourceInstance, SourceRecord } from "@pulsar-connect/core";
import kafkajs from "kafkajs";
import { inject } from "vitest";

const { Kafka, Partitioners, logLevel } = kafkajs;

/** Brokers of the Kafka server that tooling/services started for this project. */
export function kafkaBrokers(): string[] {
  const services = inject("services" as never) as { kafka?: { brokers: string[] } };
  return services.kafka?.brokers ?? ["127.0.0.1:9092"];
}

/** A kafkajs client for preparing and checking topics. */
export function testKafka(): kafkajs.Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId: "source-kafka-test", logLevel: logLevel.NOTHING });
}

export const defaultPartitioner: kafkajs.ICustomPartitioner = Partitioners.DefaultPartitioner;

/** A topic and group name nobody else uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

/** Reads until `count` records arrived or `timeoutMs` passed. */
export async function readAtLeast(
  source: SourceInstance,
  count: number,
  timeoutMs = 30_000,
): Promise<SourceRecord<Uint8Array>[]> {
  const records: SourceRecord<Uint8Array>[] = [];
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  while (records.length < count && Date.now() < deadline) {
    const batch = (await source.read({ maxRecords: count - records.length, signal })) ?? [];
    records.push(...(batch as SourceRecord<Uint8Array>[]));
  }
  return records;
}

/** Reads for `ms` and returns whatever arrived (to prove that nothing more comes). */
export async function readFor(source: SourceInstance, ms: number): Promise<SourceRecord<Uint8Array>[]> {
  const records: SourceRecord<Uint8Array>[] = [];
  const deadline = Date.now() + ms;
  const signal = new AbortController().signal;
  while (Date.now() < deadline) {
    const batch = (await source.read({ maxRecords: 1000, signal })) ?? [];
    records.push(...(batch as SourceRecord<Uint8Array>[]));
  }
  return records;
}

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
