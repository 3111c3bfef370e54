import type { SourceRecord } from "@pulsar-connect/core/host";
import { type ProducerMessage, PulsarClientError } from "@pulsar-connect/pulsar-client";
import { Backoff, sleep } from "./backoff.ts";
import type { ProducerLike } from "./pulsar.ts";
import { effectivelyOncePartition, sendFailureKind } from "./source-guarantee.ts";

/** A source record on its way to Pulsar. */
export interface OutgoingRecord {
  readonly record: SourceRecord;
  /** Position in the order the source handed records over; resends keep it. */
  readonly order: number;
  /** Value, key, properties and event time; sequence id and partition are added per send. */
  readonly message: ProducerMessage & { value: Uint8Array };
  /** The source's sequence id under EFFECTIVELY_ONCE; undefined otherwise. */
  readonly sequence: bigint | undefined;
  /** `performance.now()` when the source handed the record over, for the write latency. */
  readonly submittedAt?: number;
}

/** What a lane asks of the instance that owns it. */
export interface LaneHost {
  /** Aborts when the instance stops: queued records are then given back unsent. */
  readonly signal: AbortSignal;
  /** Whether a send that failed for a passing reason is sent again (else it is dropped). */
  readonly retriesPassingFailures: boolean;
  /** Creates the producer of the lane (checking first what the topic needs). */
  openProducer(lane: OutputLane): Promise<ProducerLike>;
  /** The broker stored the record (`alreadyStored`: before a restart, so it was not sent again). */
  stored(entry: OutgoingRecord, alreadyStored: boolean): void;
  /** The record can never be sent. Answer "halt" to send nothing more through this lane. */
  refused(entry: OutgoingRecord, error: unknown): "halt" | "continue";
  /** The lane cannot even open its producer, for a reason that will not pass. */
  cannotOpen(lane: OutputLane, error: unknown): void;
  /** A passing failure under a guarantee that does not send again: the record is lost and must be counted. */
  dropped(entry: OutgoingRecord, error: unknown): void;
  /** The record was not sent and will not be (the instance stops, or the lane halted); it is not acked. */
  abandoned(entry: OutgoingRecord): void;
  /** The lane waits for the broker (`reason`), or stopped waiting (undefined). */
  waiting(lane: OutputLane, reason: string | undefined): void;
}

/**
 * The records of one producer (a topic, and under EFFECTIVELY_ONCE one partitionId), sent in the order they came.
 * When a send fails for a reason that passes, the producer is closed, everything it still held is collected, and a
 * new producer sends it again in the original order (with the original sequence ids) before anything newer.
 */
export class OutputLane {
  readonly topic: string;
  readonly producerName: string | undefined;
  private readonly host: LaneHost;
  private producer: ProducerLike | undefined;
  private generation = 0;
  private readonly queue: OutgoingRecord[] = [];
  private readonly resend: OutgoingRecord[] = [];
  private readonly unsettled = new Map<number, number>();
  private readonly settleWaiters = new Map<number, () => void>();
  private pumping = false;
  private recovering = false;
  private halted = false;

  constructor(topic: string, producerName: string | undefined, host: LaneHost) {
    this.topic = topic;
    this.producerName = producerName;
    this.host = host;
  }

  /** Whether the producer lost its connection and is reconnecting (it keeps what it holds and resends it). */
  get connectionLost(): boolean {
    return this.producer !== undefined && !this.producer.isConnected;
  }

  submit(entry: OutgoingRecord): void {
    if (this.halted || this.host.signal.aborted) {
      this.host.abandoned(entry);
      return;
    }
    this.queue.push(entry);
    void this.pump();
  }

  /** Stop: gives back what was not sent, and closes the producer so that what it holds settles. */
  async shutdown(): Promise<void> {
    this.abandonQueued();
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await closeQuietly(producer);
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.recovering) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.recovering && !this.halted) {
        if (this.host.signal.aborted) {
          this.abandonQueued();
          break;
        }
        if (!this.producer) {
          this.producer = await this.open();
          continue;
        }
        this.dispatch(this.producer, this.queue.shift() as OutgoingRecord);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Opens the producer, waiting with capped backoff while the broker is away. */
  private async open(): Promise<ProducerLike | undefined> {
    const backoff = new Backoff(100, 10_000);
    while (!this.host.signal.aborted) {
      try {
        const producer = await this.host.openProducer(this);
        if (this.host.signal.aborted) {
          await closeQuietly(producer);
          return undefined;
        }
        this.host.waiting(this, undefined);
        return producer;
      } catch (error) {
        if (sendFailureKind(error) === "permanent") {
          this.halt();
          this.host.cannotOpen(this, error);
          return undefined;
        }
        this.host.waiting(this, describe(error));
        await sleep(backoff.next(), this.host.signal);
      }
    }
    return undefined;
  }

  private dispatch(producer: ProducerLike, entry: OutgoingRecord): void {
    const message: ProducerMessage = { ...entry.message };
    if (entry.sequence !== undefined) {
      const partition = effectivelyOncePartition(
        producer.numPartitions,
        (key) => producer.choosePartition(key),
        entry.message.key,
        entry.sequence,
      );
      if (entry.sequence <= producer.lastSequenceIdOf(partition)) {
        // Stored before a restart, on the very partition that deduplicates this sequence id.
        this.host.stored(entry, true);
        return;
      }
      message.sequenceId = entry.sequence;
      message.partition = partition;
    }
    const limit = producer.maxMessageSize;
    if (entry.message.value.length > limit) {
      // Refused before it leaves: nothing behind it may reach the broker first (a later sequence id would make this
      // one look stored after a restart).
      const error = new PulsarClientError(
        "MESSAGE_TOO_BIG",
        `message of ${entry.message.value.length} bytes exceeds the broker limit of ${limit} bytes`,
      );
      if (this.host.refused(entry, error) === "halt") this.halt();
      return;
    }
    const generation = this.generation;
    this.unsettled.set(generation, (this.unsettled.get(generation) ?? 0) + 1);
    producer.send(message).then(
      () => {
        this.host.stored(entry, false);
        this.settle(generation);
      },
      (error: unknown) => {
        this.failed(entry, error, generation);
        this.settle(generation);
      },
    );
  }

  private failed(entry: OutgoingRecord, error: unknown, generation: number): void {
    if (sendFailureKind(error) === "permanent") {
      if (this.host.refused(entry, error) === "halt") this.halt();
      return;
    }
    if (this.halted || this.host.signal.aborted) {
      this.host.abandoned(entry);
      return;
    }
    if (!this.host.retriesPassingFailures) {
      this.host.dropped(entry, error);
      return;
    }
    this.resend.push(entry);
    if (generation === this.generation) void this.recover(error);
  }

  /** Replaces the producer after a passing failure and queues what it did not store, in the original order. */
  private async recover(reason: unknown): Promise<void> {
    this.recovering = true;
    this.host.waiting(this, describe(reason));
    const dead = this.producer;
    const deadGeneration = this.generation;
    this.producer = undefined;
    this.generation += 1;
    // Everything the old producer still holds now either completes or fails with CLOSED; both settle.
    if (dead) await closeQuietly(dead);
    await this.settled(deadGeneration);
    this.resend.sort((a, b) => a.order - b.order);
    this.queue.unshift(...this.resend.splice(0));
    this.recovering = false;
    if (this.halted || this.host.signal.aborted) {
      this.abandonQueued();
      return;
    }
    void this.pump();
  }

  private settle(generation: number): void {
    const left = (this.unsettled.get(generation) ?? 1) - 1;
    if (left > 0) {
      this.unsettled.set(generation, left);
      return;
    }
    this.unsettled.delete(generation);
    const waiter = this.settleWaiters.get(generation);
    this.settleWaiters.delete(generation);
    waiter?.();
  }

  private settled(generation: number): Promise<void> {
    if (!this.unsettled.has(generation)) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.set(generation, resolve));
  }

  private halt(): void {
    this.halted = true;
    this.abandonQueued();
  }

  private abandonQueued(): void {
    for (const entry of this.queue.splice(0)) this.host.abandoned(entry);
    for (const entry of this.resend.splice(0)) this.host.abandoned(entry);
  }
}

async function closeQuietly(producer: ProducerLike): Promise<void> {
  await producer.close().catch(() => {});
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
