/** One recorded exception (upstream ExceptionInformation). */
export interface ExceptionInformation {
  exceptionString: string;
  timestampMs: number;
}

/** Upstream SinkInstanceStatusData, plus `stalled` and `backlog`. */
export interface SinkInstanceStatusData {
  running: boolean;
  error: string;
  numRestarts: number;
  numReadFromPulsar: number;
  numSystemExceptions: number;
  latestSystemExceptions: ExceptionInformation[];
  numSinkExceptions: number;
  latestSinkExceptions: ExceptionInformation[];
  numWrittenToSink: number;
  /** Records sent to the dead-letter topic (not part of upstream's shape). */
  numDeadLettered?: number;
  lastReceivedTime: number;
  workerId: string;
  /** Messages waiting in the subscription while nothing gets written. */
  stalled: boolean;
  /** What the instance is doing when not simply running (e.g. "retrying write: connection refused"). */
  state: string;
}

/** Upstream SourceInstanceStatusData, plus `stalled` and `state`. */
export interface SourceInstanceStatusData {
  running: boolean;
  error: string;
  numRestarts: number;
  numReceivedFromSource: number;
  numSystemExceptions: number;
  latestSystemExceptions: ExceptionInformation[];
  numSourceExceptions: number;
  latestSourceExceptions: ExceptionInformation[];
  numWritten: number;
  /** Records given up under ATMOST_ONCE because their send failed (not part of upstream's shape). */
  numDropped?: number;
  lastReceivedTime: number;
  workerId: string;
  stalled: boolean;
  state: string;
}

const KEEP = 10;

/**
 * Upper bounds (ms) of the write-latency buckets: powers of two from 1 ms to about 65 s; one more bucket holds the
 * slower writes. Fixed bounds keep the histogram a few numbers, cheap to copy between processes and to subtract.
 */
export const LATENCY_BUCKET_BOUNDS_MS: readonly number[] = Array.from({ length: 17 }, (_, i) => 2 ** i);

/** Counts of measured durations per bucket of {@link LATENCY_BUCKET_BOUNDS_MS}; they only grow. */
export class LatencyHistogram {
  readonly counts: number[] = new Array<number>(LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0);

  record(ms: number): void {
    let bucket = 0;
    while (bucket < LATENCY_BUCKET_BOUNDS_MS.length && ms > (LATENCY_BUCKET_BOUNDS_MS[bucket] as number)) bucket += 1;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
  }
}

/** Counters of one instance; the worker turns them into status and Prometheus metrics. */
export class InstanceStats {
  received = 0;
  written = 0;
  /** Connector-side failures: sink write failures, source read failures. */
  connectorExceptions = 0;
  systemExceptions = 0;
  deadLettered = 0;
  /** Source records given up under ATMOST_ONCE because their send failed. */
  dropped = 0;
  acked = 0;
  lastReceivedTime = 0;
  lastWrittenTime = 0;
  readonly latestConnectorExceptions: ExceptionInformation[] = [];
  readonly latestSystemExceptions: ExceptionInformation[] = [];
  readonly userMetrics: Map<string, { count: number; sum: number }> = new Map();
  /**
   * How long writes take: each `sink.write` call of a sink, and for a source the time from a record handed over to
   * its storage in Pulsar.
   */
  readonly writeLatency: LatencyHistogram = new LatencyHistogram();

  recordConnectorException(error: unknown): void {
    this.connectorExceptions += 1;
    push(this.latestConnectorExceptions, error);
  }

  recordSystemException(error: unknown): void {
    this.systemExceptions += 1;
    push(this.latestSystemExceptions, error);
  }

  recordUserMetric(name: string, value: number): void {
    const entry = this.userMetrics.get(name) ?? { count: 0, sum: 0 };
    entry.count += 1;
    entry.sum += value;
    this.userMetrics.set(name, entry);
  }
}

function push(list: ExceptionInformation[], error: unknown): void {
  list.push({ exceptionString: error instanceof Error ? error.message : String(error), timestampMs: Date.now() });
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}
