import { LATENCY_BUCKET_BOUNDS_MS } from "@pulsar-connect/runtime";
import type { SlotCounters } from "../supervisor.ts";

/** One interval of a connector (or of one of its instances), as the console charts it. */
export interface HistorySample {
  /** Epoch ms at the end of the interval. */
  at: number;
  /** Length of the interval in seconds (the sampler can run late on a busy machine). */
  seconds: number;
  received: number;
  written: number;
  /** Connector and system exceptions. */
  errors: number;
  /** Write latency percentiles over the interval, in ms; null when no write was measured. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** What the history reads of one instance at each tick. */
export type SampledCounters = Pick<
  SlotCounters,
  "received" | "written" | "connectorExceptions" | "systemExceptions" | "writeLatency"
>;

/** The connectors and instances the history follows, read at each tick. */
export interface SampledConnector {
  key: string;
  instances: Array<{ instanceId: number; counters: SampledCounters }>;
}

export const HISTORY_INTERVAL_MS = 10_000;
/** One hour of 10-second samples. */
export const HISTORY_SAMPLES = 360;
/**
 * Bytes one series holds for its samples: epoch (8), three counts (3 x 4), interval length and two percentiles
 * (3 x 4). The latency baseline adds one number per bucket; a connector keeps one series for its total and one per
 * instance.
 */
export const SAMPLE_BYTES = 32;

/** A fixed-size ring of samples in typed arrays: its memory does not grow with time or with traffic. */
export class SampleRing {
  private readonly at: Float64Array;
  private readonly counts: Uint32Array;
  private readonly floats: Float32Array;
  private next = 0;
  private size = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.at = new Float64Array(capacity);
    this.counts = new Uint32Array(capacity * 3);
    this.floats = new Float32Array(capacity * 3);
  }

  /** Bytes held by the samples (the ring's fixed cost). */
  get bytes(): number {
    return this.at.byteLength + this.counts.byteLength + this.floats.byteLength;
  }

  get length(): number {
    return this.size;
  }

  push(sample: HistorySample): void {
    const slot = this.next;
    this.at[slot] = sample.at;
    this.counts[slot * 3] = clampCount(sample.received);
    this.counts[slot * 3 + 1] = clampCount(sample.written);
    this.counts[slot * 3 + 2] = clampCount(sample.errors);
    this.floats[slot * 3] = sample.seconds;
    this.floats[slot * 3 + 1] = sample.p50Ms ?? Number.NaN;
    this.floats[slot * 3 + 2] = sample.p99Ms ?? Number.NaN;
    this.next = (slot + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** The latest `last` samples (all by default), oldest first. */
  samples(last: number = this.size): HistorySample[] {
    const count = Math.max(0, Math.min(last, this.size));
    const out: HistorySample[] = [];
    for (let index = this.size - count; index < this.size; index += 1) {
      const slot = (this.next - this.size + index + this.capacity) % this.capacity;
      const p50 = this.floats[slot * 3 + 1] as number;
      const p99 = this.floats[slot * 3 + 2] as number;
      out.push({
        at: this.at[slot] as number,
        seconds: round(this.floats[slot * 3] as number),
        received: this.counts[slot * 3] as number,
        written: this.counts[slot * 3 + 1] as number,
        errors: this.counts[slot * 3 + 2] as number,
        p50Ms: Number.isNaN(p50) ? null : round(p50),
        p99Ms: Number.isNaN(p99) ? null : round(p99),
      });
    }
    return out;
  }
}

function clampCount(value: number): number {
  return Math.max(0, Math.min(0xffffffff, Math.round(value)));
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The `q` quantile (0..1) of the durations counted in `counts` (buckets of LATENCY_BUCKET_BOUNDS_MS), linear inside
 * the bucket it falls in; null when nothing was counted.
 */
export function quantileOf(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (const [bucket, count] of counts.entries()) {
    if (count === 0 || seen + count < rank) {
      seen += count;
      continue;
    }
    const lower = bucket === 0 ? 0 : (LATENCY_BUCKET_BOUNDS_MS[bucket - 1] as number);
    // The last bucket has no upper bound: its durations are reported as twice the highest bound at most.
    const upper = LATENCY_BUCKET_BOUNDS_MS[bucket] ?? lower * 2;
    return lower + ((rank - seen) / count) * (upper - lower);
  }
  return LATENCY_BUCKET_BOUNDS_MS.at(-1) ?? null;
}

interface Baseline {
  received: number;
  written: number;
  errors: number;
  latency: readonly number[];
}

interface Series {
  ring: SampleRing;
  baseline: Baseline | undefined;
}

interface Followed {
  total: SampleRing;
  instances: Map<number, Series>;
}

/**
 * The gain of one instance since the previous tick. An instance seen for the first time counts from zero: it is new
 * (created, scaled up) or the worker just started, and its counters start at zero in both cases.
 */
function gainOf(series: Series, counters: SampledCounters): Baseline {
  const now: Baseline = {
    received: counters.received,
    written: counters.written,
    errors: counters.connectorExceptions + counters.systemExceptions,
    latency: [...counters.writeLatency.counts],
  };
  const before = series.baseline ?? { received: 0, written: 0, errors: 0, latency: [] };
  series.baseline = now;
  // The live instance's histogram starts from zero after a restart: all of it is new then.
  const restarted = now.latency.some((count, bucket) => count < (before.latency[bucket] ?? 0));
  return {
    received: Math.max(0, now.received - before.received),
    written: Math.max(0, now.written - before.written),
    errors: Math.max(0, now.errors - before.errors),
    latency: now.latency.map((count, bucket) => (restarted ? count : count - (before.latency[bucket] ?? 0))),
  };
}

/**
 * Each connector's throughput, errors and write latency over the last hour, sampled every `intervalMs` into fixed
 * rings: one for the connector's total and one per instance. Memory: {@link SAMPLE_BYTES} x `samples` per ring
 * (11.5 KB for an hour of 10-second samples), so (1 + parallelism) x 11.5 KB per connector, plus the baselines.
 * A connector or instance that goes away is forgotten at the next tick.
 */
export class ConnectorHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly read: () => SampledConnector[];
  private readonly now: () => number;
  private readonly followed = new Map<string, Followed>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private lastAt: number | undefined;
  /** Grows by one at each tick that added samples; streams compare it to what they sent. */
  version = 0;

  constructor(
    read: () => SampledConnector[],
    options: { intervalMs?: number; samples?: number; now?: () => number } = {},
  ) {
    this.read = read;
    this.intervalMs = options.intervalMs ?? HISTORY_INTERVAL_MS;
    this.capacity = options.samples ?? HISTORY_SAMPLES;
    this.now = options.now ?? Date.now;
  }

  /** Samples every interval until {@link stop}; the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Calls `listener` after each tick that added samples; returns the unsubscribe. */
  onSample(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads every connector's counters and adds one sample per connector and instance. */
  tick(): void {
    const at = this.now();
    const seconds = this.lastAt === undefined ? this.intervalMs / 1000 : Math.max(0.001, (at - this.lastAt) / 1000);
    this.lastAt = at;
    const seen = new Set<string>();
    let added = false;
    for (const connector of this.read()) {
      seen.add(connector.key);
      let followed = this.followed.get(connector.key);
      if (!followed) {
        followed = { total: new SampleRing(this.capacity), instances: new Map() };
        this.followed.set(connector.key, followed);
      }
      const total = { received: 0, written: 0, errors: 0, latency: [] as number[] };
      let gained = false;
      const live = new Set<number>();
      for (const { instanceId, counters } of connector.instances) {
        live.add(instanceId);
        let series = followed.instances.get(instanceId);
        if (!series) {
          series = { ring: new SampleRing(this.capacity), baseline: undefined };
          followed.instances.set(instanceId, series);
        }
        const gain = gainOf(series, counters);
        gained = true;
        series.ring.push(sampleOf(at, seconds, gain));
        total.received += gain.received;
        total.written += gain.written;
        total.errors += gain.errors;
        for (const [bucket, count] of gain.latency.entries())
          total.latency[bucket] = (total.latency[bucket] ?? 0) + count;
      }
      for (const instanceId of followed.instances.keys()) {
        if (!live.has(instanceId)) followed.instances.delete(instanceId);
      }
      if (gained) {
        followed.total.push(sampleOf(at, seconds, total));
        added = true;
      }
    }
    for (const key of this.followed.keys()) if (!seen.has(key)) this.followed.delete(key);
    if (!added) return;
    this.version += 1;
    for (const listener of this.listeners) listener();
  }

  /** The connector's total samples, the latest `last` of them (all by default); empty for an unknown connector. */
  totalOf(key: string, last?: number): HistorySample[] {
    return this.followed.get(key)?.total.samples(last) ?? [];
  }

  /** Each instance's samples, by instance id. */
  instancesOf(key: string, last?: number): Array<{ instanceId: number; samples: HistorySample[] }> {
    const followed = this.followed.get(key);
    if (!followed) return [];
    return [...followed.instances.entries()]
      .sort(([a], [b]) => a - b)
      .map(([instanceId, series]) => ({ instanceId, samples: series.ring.samples(last) }));
  }

  /** Bytes held by the rings of one connector (its total and its instances). */
  bytesOf(key: string): number {
    const followed = this.followed.get(key);
    if (!followed) return 0;
    let bytes = followed.total.bytes;
    for (const series of followed.instances.values()) bytes += series.ring.bytes;
    return bytes;
  }
}

function sampleOf(at: number, seconds: number, gain: Baseline): HistorySample {
  return {
    at,
    seconds,
    received: gain.received,
    written: gain.written,
    errors: gain.errors,
    p50Ms: quantileOf(gain.latency, 0.5),
    p99Ms: quantileOf(gain.latency, 0.99),
  };
}
