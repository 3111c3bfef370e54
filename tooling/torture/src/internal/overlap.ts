import { isPulsarClientError, MessageId, PulsarClient, type Reader } from "@pulsar-connect/pulsar-client";

/** An instance that two live workers said they held, continuously for longer than the lease. */
export interface Overlap {
  /** `kind:tenant/namespace/name:id`, as the heartbeats list it. */
  instance: string;
  workers: string[];
  /** Wall-clock milliseconds of the first check that saw both, and how long it lasted when flagged. */
  since: number;
  forMs: number;
}

interface LatestHeartbeat {
  running: ReadonlySet<string>;
  /** Its publish time (the sender's wall clock, the harness's machine). */
  at: number;
}

/**
 * Judges the heartbeats of a cluster's workers: each one lists the instances that hold resources on its worker
 * (starting, running, restarting or stopping). A worker counts while its latest heartbeat is younger than the lease,
 * so a killed or frozen worker stops counting once others may take its instances over. An instance listed by two
 * counting workers is a finding only when that lasts longer than the lease: a worker woken from SIGSTOP sends one
 * heartbeat with what it held before its next scheduler tick closes it, which the cluster allows.
 */
export class OverlapTracker {
  private readonly latest = new Map<string, LatestHeartbeat>();
  private readonly episodes = new Map<string, { since: number; flagged: boolean }>();
  private readonly leaseMs: number;

  constructor(leaseMs: number) {
    this.leaseMs = leaseMs;
  }

  /** One message of the members topic: a heartbeat, or `running` undefined for the empty one a leaving worker sends. */
  heartbeat(workerId: string, running: readonly string[] | undefined, at: number): void {
    const previous = this.latest.get(workerId);
    if (previous && previous.at > at) return;
    if (running === undefined) this.latest.delete(workerId);
    else this.latest.set(workerId, { running: new Set(running), at });
  }

  /** Instances held by two or more counting workers at `now`, with those workers. */
  heldTwice(now: number): Map<string, string[]> {
    const holders = new Map<string, string[]>();
    for (const [workerId, heartbeat] of this.latest) {
      if (now - heartbeat.at >= this.leaseMs) continue;
      for (const instance of heartbeat.running) holders.set(instance, [...(holders.get(instance) ?? []), workerId]);
    }
    for (const [instance, workers] of holders) {
      if (workers.length < 2) holders.delete(instance);
      else workers.sort();
    }
    return holders;
  }

  /** Overlaps that have just lasted longer than the lease (each one reported once). */
  check(now: number): Overlap[] {
    const twice = this.heldTwice(now);
    for (const instance of this.episodes.keys()) if (!twice.has(instance)) this.episodes.delete(instance);
    const found: Overlap[] = [];
    for (const [instance, workers] of twice) {
      const episode = this.episodes.get(instance) ?? { since: now, flagged: false };
      this.episodes.set(instance, episode);
      if (!episode.flagged && now - episode.since > this.leaseMs) {
        episode.flagged = true;
        found.push({ instance, workers, since: episode.since, forMs: now - episode.since });
      }
    }
    return found;
  }
}

/**
 * Follows the members topic of a cluster (`pulsar-connect-<cluster>-members`) on the harness's broker and checks
 * twice a second that no instance is held by two live workers for longer than the lease.
 */
export class OverlapWatcher {
  readonly overlaps: Overlap[] = [];
  private readonly tracker: OverlapTracker;
  private readonly client: PulsarClient;
  private readonly topic: string;
  private closed = false;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  heartbeats = 0;

  constructor(serviceUrl: string, membersTopic: string, leaseMs: number, onOverlap: (overlap: Overlap) => void) {
    this.client = new PulsarClient({ serviceUrl });
    this.topic = membersTopic;
    this.tracker = new OverlapTracker(leaseMs);
    this.timer = setInterval(() => {
      for (const overlap of this.tracker.check(Date.now())) {
        this.overlaps.push(overlap);
        onOverlap(overlap);
      }
    }, 500);
  }

  start(): void {
    this.loop = this.follow();
  }

  private async follow(): Promise<void> {
    while (!this.closed) {
      let reader: Reader | undefined;
      try {
        reader = await this.client.createReader({ topic: this.topic, startMessageId: MessageId.earliest });
        while (!this.closed) {
          let message: Awaited<ReturnType<Reader["readNext"]>>;
          try {
            message = await reader.readNext(1_000);
          } catch (error) {
            if (isPulsarClientError(error) && error.code === "TIMEOUT") continue;
            throw error;
          }
          if (message.key === undefined) continue;
          this.heartbeats++;
          const running =
            message.data.length === 0
              ? undefined
              : ((JSON.parse(message.data.toString("utf8")) as { running?: string[] }).running ?? []);
          this.tracker.heartbeat(message.key, running, message.publishTime);
        }
      } catch {
        // The broker was killed or restarted: read again from the start (older heartbeats do not replace newer).
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        await reader?.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.loop;
    await this.client.close().catch(() => undefined);
  }
}
