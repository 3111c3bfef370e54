import type { Producer, PulsarClient } from "@pulsar-connect/pulsar-client";
import { LeaseRenewals } from "./lease-renewals.ts";

/** What a heartbeat channel needs to know about the lease. */
export interface HeartbeatTiming {
  leaseMs: number;
  heartbeatIntervalMs: number;
  /** The worker's own lease (shorter than the one the others give it). */
  ownLeaseMs: number;
}

/** Where a worker's heartbeats go. */
export interface HeartbeatTarget {
  topic: string;
  producerName: string;
  key: string;
}

/**
 * Sends a worker's heartbeats to the members topic. The cluster scheduler feeds it the latest heartbeat and a
 * liveness tick; the channel renews the lease every heartbeat interval and says when the latest renewal happened.
 */
export interface HeartbeatChannel {
  /** Opens the producer; heartbeats go out with `key` (the worker id). The caller sends the first heartbeat. */
  open(target: HeartbeatTarget, timing: HeartbeatTiming): Promise<void>;
  /** The heartbeat to send from now on, every heartbeat interval. */
  update(value: string): void;
  /** The worker's main thread is alive: the lease may be renewed. */
  alive(): void;
  /** Sends `value` at once (it becomes the current heartbeat); resolves once the broker stored it. */
  sendNow(value: string): Promise<void>;
  /** Send time, on the scheduler's clock, of the latest stored heartbeat; 0 before the first one. */
  renewedAt(): number;
  /** How many renewals came after a gap longer than the own lease. */
  lapses(): number;
  /** Stops renewing; sends `last` first when given (an empty value removes the member entry). */
  close(last?: string[]): Promise<void>;
}

/**
 * Heartbeats sent from the scheduler's own event loop: a long synchronous task there delays them. Used where the
 * scheduler runs on a client that cannot move to a thread of its own (tests on the in-memory stand-in).
 */
export class LoopHeartbeatChannel implements HeartbeatChannel {
  private readonly client: Pick<PulsarClient, "createProducer">;
  private readonly now: () => number;
  private renewals = new LeaseRenewals(0);
  private readonly onError: (error: Error) => void;
  private producer: Producer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private current = "";
  private key = "";

  constructor(settings: {
    client: Pick<PulsarClient, "createProducer">;
    now: () => number;
    onError: (error: Error) => void;
  }) {
    this.client = settings.client;
    this.now = settings.now;
    this.onError = settings.onError;
  }

  async open(target: HeartbeatTarget, timing: HeartbeatTiming): Promise<void> {
    this.key = target.key;
    this.renewals = new LeaseRenewals(timing.ownLeaseMs);
    this.producer = await this.client.createProducer({
      topic: target.topic,
      batchingEnabled: false,
      sendTimeoutMs: timing.leaseMs,
      producerName: target.producerName,
    });
    this.timer = setInterval(() => {
      if (this.current) this.send(this.current).catch((error: unknown) => this.onError(error as Error));
    }, timing.heartbeatIntervalMs);
  }

  update(value: string): void {
    this.current = value;
  }

  alive(): void {
    // The loop that would tick is the one that sends: nothing to watch.
  }

  sendNow(value: string): Promise<void> {
    this.current = value;
    return this.send(value);
  }

  renewedAt(): number {
    return this.renewals.renewedAt();
  }

  lapses(): number {
    return this.renewals.lapses();
  }

  async close(last: string[] = []): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const value of last) await this.producer?.send({ key: this.key, value }).catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
  }

  private async send(value: string): Promise<void> {
    const producer = this.producer;
    if (!producer) return;
    const sentAt = this.now();
    await producer.send({ key: this.key, value });
    this.renewals.record(sentAt);
  }
}
