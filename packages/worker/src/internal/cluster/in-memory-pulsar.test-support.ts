import { PulsarClientError } from "@pulsar-connect/pulsar-client";

/** A message as the in-memory stand-in stores it. */
export interface StoredMessage {
  key?: string;
  data: Buffer;
  publishTime: number;
  properties: Record<string, string>;
}

/** Faults a test injects into one worker's client. */
export interface Faults {
  /** The members topic's reader delivers nothing while this answers true. */
  stallMembersReader?: () => boolean;
  /** Awaited before a producer is created on `topic` (before it fences anything): holds one worker at a step. */
  beforeProducer?: (topic: string) => Promise<void>;
}

/** The client calls the cluster code makes, as the stand-in answers them. */
export interface InMemoryClient {
  createProducer(options: { topic: string; accessMode?: string }): Promise<{
    readonly isClosed: boolean;
    send(message: { key?: string; value: string; properties?: Record<string, string> }): Promise<void>;
    close(): Promise<void>;
  }>;
  createReader(options: { topic: string }): Promise<{
    hasMessageAvailable(): Promise<boolean>;
    readNext(timeoutMs: number): Promise<StoredMessage>;
    close(): Promise<void>;
  }>;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** How long a fenced producer of the real client takes to reconnect, be refused, and close for good. */
const RECONNECT_MS = 100;

/**
 * Whether a producer fenced at `fencedAt` is closed for good: sends during its reconnect fail as fenced, later ones
 * as closed.
 */
function reconnectRefused(fencedAt: number | undefined): boolean {
  return fencedAt !== undefined && performance.now() - fencedAt >= RECONNECT_MS;
}

/**
 * An in-memory stand-in for the few Pulsar calls the cluster code makes (producers with ExclusiveWithFencing, readers
 * from the earliest message), for unit tests of timing faults a real broker cannot be made to show on demand. The
 * integration tests run the same code on a real Pulsar.
 */
export class InMemoryPulsar {
  readonly topics: Map<string, StoredMessage[]> = new Map();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly fencingHolders = new Map<string, { fencedAt: number | undefined }>();
  private readonly epochs = new Map<string, number>();

  /** How many ExclusiveWithFencing producers were created on `topic` (the broker's topic epoch). */
  epoch(topic: string): number {
    return this.epochs.get(topic) ?? 0;
  }

  log(topic: string): StoredMessage[] {
    let list = this.topics.get(topic);
    if (!list) {
      list = [];
      this.topics.set(topic, list);
    }
    return list;
  }

  private push(topic: string, message: StoredMessage): void {
    this.log(topic).push(message);
    for (const wake of this.waiters.get(topic) ?? []) wake();
  }

  client(faults: Faults = {}): InMemoryClient {
    const bus = this;
    return {
      async createProducer(options: { topic: string; accessMode?: string }) {
        await faults.beforeProducer?.(options.topic);
        const handle = { fencedAt: undefined as number | undefined, closed: false };
        if (options.accessMode === "ExclusiveWithFencing") {
          const previous = bus.fencingHolders.get(options.topic);
          if (previous) previous.fencedAt ??= performance.now();
          bus.fencingHolders.set(options.topic, handle);
          bus.epochs.set(options.topic, bus.epoch(options.topic) + 1);
        }
        return {
          get isClosed() {
            return handle.closed || reconnectRefused(handle.fencedAt);
          },
          async send(message: { key?: string; value: string; properties?: Record<string, string> }) {
            if (handle.closed || reconnectRefused(handle.fencedAt)) {
              throw new PulsarClientError("CLOSED", `producer for ${options.topic} is closed`);
            }
            if (handle.fencedAt !== undefined) {
              throw new PulsarClientError("PRODUCER_FENCED", "Topic epoch has already moved");
            }
            bus.push(options.topic, {
              ...(message.key === undefined ? {} : { key: message.key }),
              data: Buffer.from(message.value),
              publishTime: Date.now(),
              properties: message.properties ?? {},
            });
          },
          async close() {
            handle.closed = true;
          },
        };
      },
      async createReader(options: { topic: string }) {
        let position = 0;
        const stalled = () => options.topic.endsWith("-members") && faults.stallMembersReader?.() === true;
        return {
          async hasMessageAvailable() {
            return position < bus.log(options.topic).length;
          },
          async readNext(timeoutMs: number) {
            if (stalled()) {
              await sleep(timeoutMs);
              throw new PulsarClientError("TIMEOUT", "no message in time");
            }
            if (position >= bus.log(options.topic).length) {
              await new Promise<void>((done) => {
                const set = bus.waiters.get(options.topic) ?? new Set<() => void>();
                bus.waiters.set(options.topic, set);
                const wake = () => {
                  set.delete(wake);
                  clearTimeout(timer);
                  done();
                };
                const timer = setTimeout(wake, timeoutMs);
                set.add(wake);
              });
              if (position >= bus.log(options.topic).length)
                throw new PulsarClientError("TIMEOUT", "no message in time");
            }
            const message = bus.log(options.topic)[position] as StoredMessage;
            position += 1;
            return message;
          },
          async close() {},
        };
      },
    };
  }
}
