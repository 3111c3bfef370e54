// What an earlier EFFECTIVELY_ONCE instance of a source already put in the topic, for an instance that runs under
// another guarantee now: the broker keeps, per producer name, the last sequence id it stored (deduplication).
import type { SourceRecord } from "@pulsar-connect/core/host";
import type { ProducerLike } from "./pulsar.ts";
import { effectivelyOncePartition } from "./source-guarantee.ts";

/** The last sequence the broker stored for one producer name, per partition of the topic. */
interface LastSequences {
  numPartitions: number;
  keyPartition: (key: string) => number;
  last: bigint[];
}

/**
 * Tells which records carrying `partitionId` and `sequence` the topic holds already: those at or below the last
 * sequence the broker stored for a producer named after the partitionId, on the partition an EFFECTIVELY_ONCE lane
 * sends it to. Without deduplication the broker knows no sequence (-1) and no record is held. Looked up once per
 * topic and partitionId, through a producer of that name that is closed right away.
 */
export class StoredSequences {
  private readonly known = new Map<string, LastSequences>();
  private readonly openProducer: (topic: string, producerName: string, record: SourceRecord) => Promise<ProducerLike>;

  constructor(openProducer: (topic: string, producerName: string, record: SourceRecord) => Promise<ProducerLike>) {
    this.openProducer = openProducer;
  }

  /** Whether the topic already holds `record` (sent by an earlier instance under EFFECTIVELY_ONCE). */
  async holds(topic: string, record: SourceRecord): Promise<boolean> {
    const { partitionId, sequence } = record;
    if (partitionId === undefined || sequence === undefined) return false;
    const key = `${topic}\u0000${partitionId}`;
    let known = this.known.get(key);
    if (!known) {
      known = await this.lookUp(topic, partitionId, record);
      this.known.set(key, known);
    }
    const partition = effectivelyOncePartition(known.numPartitions, known.keyPartition, record.key, sequence);
    return sequence <= (known.last[partition] ?? -1n);
  }

  private async lookUp(topic: string, producerName: string, record: SourceRecord): Promise<LastSequences> {
    const producer = await this.openProducer(topic, producerName, record);
    try {
      const numPartitions = Math.max(1, producer.numPartitions);
      return {
        numPartitions,
        // Keyed routing is a hash of the key over the partition count: it needs no open producer.
        keyPartition: (key) => producer.choosePartition(key),
        last: Array.from({ length: numPartitions }, (_, partition) => producer.lastSequenceIdOf(partition)),
      };
    } finally {
      await producer.close().catch(() => {});
    }
  }
}
