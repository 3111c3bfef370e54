import type { Logger } from "@pulsar-connect/core/host";
import type {
  ConnectorInstance,
  ExceptionInformation,
  SinkInstanceStatusData,
  SourceInstanceStatusData,
} from "@pulsar-connect/runtime";
import { type InstanceStatus, upstreamInstanceStatus } from "./status.ts";

/** Backoff of restarts after a failure: 1 s, 2 s, 4 s ... capped, reset after a stable run. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** An instance that ran this long before failing starts again from `initialMs`. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, stableMs: 60_000 };

/** Drain time of a graceful stop: below Kubernetes' default 30 s grace period, so the pod is not killed first. */
export const DEFAULT_STOP_TIMEOUT_MS = 25_000;

/** How long a forced close after a drain timeout may take before the slot gives up on the instance. */
const FORCE_STOP_TIMEOUT_MS = 3_000;

type Phase = "stopped" | "starting" | "running" | "backoff" | "finished" | "stopping";

/** Counters carried over from the previous runs of a slot, so totals survive restarts. */
interface Totals {
  received: number;
  written: number;
  connectorExceptions: number;
  systemExceptions: number;
  /** Sink records sent to the dead-letter topic. */
  deadLettered: number;
  /** Source records given up under ATMOST_ONCE because their send failed. */
  dropped: number;
  lastReceivedTime: number;
}

/** Counters of a slot for the metrics endpoint: previous runs plus the live instance. */
export interface SlotCounters extends Totals {
  userMetrics: Map<string, { count: number; sum: number }>;
  /**
   * Write-latency histogram counts of the live instance (runtime's LATENCY_BUCKET_BOUNDS_MS); they start again from
   * zero when the instance restarts.
   */
  writeLatency: { readonly counts: readonly number[] };
}

const NO_LATENCY = { counts: [] as readonly number[] };

/**
 * Supervises one instance id of a connector: starts it, restarts it with capped exponential backoff when it
 * fails, stops it gracefully, and explains in `status()` why it is not running.
 */
export class InstanceSlot {
  readonly instanceId: number;
  desired: "running" | "stopped" = "stopped";
  numRestarts = 0;
  lastError = "";
  private lastErrorTime = 0;
  private phase: Phase = "stopped";
  private instance: ConnectorInstance | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restartAt = 0;
  private failures = 0;
  private startedAt = 0;
  private generation = 0;
  private readonly totals: Totals = {
    received: 0,
    written: 0,
    connectorExceptions: 0,
    systemExceptions: 0,
    deadLettered: 0,
    dropped: 0,
    lastReceivedTime: 0,
  };
  private latestConnectorExceptions: ExceptionInformation[] = [];
  private latestSystemExceptions: ExceptionInformation[] = [];
  private readonly kind: "sink" | "source";
  private readonly factory: (instanceId: number) => Promise<ConnectorInstance>;
  private readonly logger: Logger;
  private readonly scrub: (text: string) => string;
  private readonly backoff: BackoffPolicy;
  private readonly workerId: string;
  private readonly stopTimeoutMs: number;

  constructor(options: {
    kind: "sink" | "source";
    instanceId: number;
    factory: (instanceId: number) => Promise<ConnectorInstance>;
    logger: Logger;
    scrub: (text: string) => string;
    backoff: BackoffPolicy;
    workerId: string;
    stopTimeoutMs?: number;
  }) {
    this.kind = options.kind;
    this.instanceId = options.instanceId;
    this.factory = options.factory;
    this.logger = options.logger.child({ instanceId: options.instanceId });
    this.scrub = options.scrub;
    this.backoff = options.backoff;
    this.workerId = options.workerId;
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  }

  /** Whether an instance holds resources here: starting, running, waiting to restart, or stopping. */
  get holdsInstance(): boolean {
    return this.phase !== "stopped" && this.phase !== "finished";
  }

  /** Marks the slot running and starts an instance unless one is already active or waiting to restart. */
  run(): void {
    this.desired = "running";
    if (this.phase === "stopped" || this.phase === "finished") {
      this.failures = 0;
      void this.launch();
    }
  }

  /**
   * Marks the slot stopped and stops the instance gracefully; with `immediate`, closes it at once without draining
   * (cluster mode: this worker's lease lapsed and another worker may already run the instance).
   */
  async stop(options: { immediate?: boolean } = {}): Promise<void> {
    this.desired = "stopped";
    this.generation += 1;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const instance = this.instance;
    this.instance = undefined;
    if (instance && options.immediate && instance.forceStop) {
      this.phase = "stopping";
      await instance.forceStop().catch((error: unknown) => {
        this.logger.warn({ err: this.scrub(messageOf(error)) }, "instance did not close cleanly");
      });
      this.retire(instance);
    } else if (instance) {
      this.phase = "stopping";
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((done) => {
        timer = setTimeout(() => done("timeout"), this.stopTimeoutMs);
      });
      try {
        const outcome = await Promise.race([instance.stop(), timeout]);
        if (outcome === "timeout") await this.forceStop(instance);
      } catch (error) {
        this.logger.warn({ err: this.scrub(messageOf(error)) }, "instance did not stop cleanly");
      } finally {
        clearTimeout(timer);
      }
      this.retire(instance);
    }
    this.phase = "stopped";
  }

  /**
   * The drain took too long: close the instance's connector and Pulsar handles anyway, so that no abandoned
   * consumer keeps Kafka partitions or a Failover subscription from the next instance.
   */
  private async forceStop(instance: ConnectorInstance): Promise<void> {
    const seconds = this.stopTimeoutMs / 1000;
    if (!instance.forceStop) {
      this.lastError = `did not stop within ${seconds}s and cannot be closed forcibly; abandoned`;
      this.logger.error({ timeoutMs: this.stopTimeoutMs }, `instance ${this.lastError}`);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((done) => {
      timer = setTimeout(() => done("timeout"), FORCE_STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([instance.forceStop().then(() => "closed" as const), timeout]).catch(
      (error: unknown) => this.scrub(messageOf(error)),
    );
    clearTimeout(timer);
    this.lastError =
      outcome === "closed"
        ? `did not stop within ${seconds}s; closed forcibly, in-flight work abandoned (redelivered under ATLEAST_ONCE and EFFECTIVELY_ONCE)`
        : `did not stop within ${seconds}s and its forced close failed (${outcome === "timeout" ? `no answer in ${FORCE_STOP_TIMEOUT_MS / 1000}s` : outcome}); abandoned`;
    this.lastErrorTime = Date.now();
    this.logger.warn({ timeoutMs: this.stopTimeoutMs }, `instance ${this.lastError}`);
  }

  /** Stops (gracefully) and starts again. */
  async restart(): Promise<void> {
    await this.stop();
    this.run();
  }

  private async launch(): Promise<void> {
    const generation = ++this.generation;
    this.phase = "starting";
    let instance: ConnectorInstance;
    try {
      instance = await this.factory(this.instanceId);
    } catch (error) {
      if (generation === this.generation) this.fail(error, generation);
      return;
    }
    if (generation !== this.generation) {
      await instance.stop().catch(() => undefined);
      return;
    }
    this.instance = instance;
    // `done` may reject while start() is still pending; observe it from the first moment.
    instance.done.then(
      () => this.ended(instance, generation, undefined),
      (error: unknown) => this.ended(instance, generation, error ?? new Error("instance failed")),
    );
    try {
      await instance.start();
    } catch (error) {
      if (generation !== this.generation || this.instance !== instance) return;
      this.instance = undefined;
      await instance.stop().catch(() => undefined);
      this.retire(instance);
      this.fail(error, generation);
      return;
    }
    if (generation !== this.generation || this.instance !== instance) return;
    this.phase = "running";
    this.startedAt = Date.now();
    this.logger.info("instance running");
  }

  private ended(instance: ConnectorInstance, generation: number, error: unknown): void {
    if (generation !== this.generation || this.instance !== instance) return;
    this.instance = undefined;
    this.retire(instance);
    if (error === undefined) {
      this.phase = "finished";
      this.logger.info("instance finished");
      return;
    }
    this.fail(error, generation);
  }

  private fail(error: unknown, generation: number): void {
    this.lastError = this.scrub(messageOf(error));
    this.lastErrorTime = Date.now();
    if (this.startedAt > 0 && Date.now() - this.startedAt >= this.backoff.stableMs) this.failures = 0;
    this.startedAt = 0;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    this.failures += 1;
    this.phase = "backoff";
    this.restartAt = Date.now() + delay;
    this.logger.error({ err: this.lastError, restartInMs: delay }, "instance failed; restarting after backoff");
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (generation !== this.generation || this.desired !== "running") return;
      this.numRestarts += 1;
      void this.launch();
    }, delay);
  }

  private retire(instance: ConnectorInstance): void {
    const stats = instance.stats;
    this.totals.received += stats.received;
    this.totals.written += stats.written;
    this.totals.connectorExceptions += stats.connectorExceptions;
    this.totals.systemExceptions += stats.systemExceptions;
    this.totals.deadLettered += stats.deadLettered;
    this.totals.dropped += stats.dropped;
    this.totals.lastReceivedTime = Math.max(this.totals.lastReceivedTime, stats.lastReceivedTime);
    try {
      const last = instance.status() as Partial<SinkInstanceStatusData & SourceInstanceStatusData>;
      this.latestConnectorExceptions = last.latestSinkExceptions ?? last.latestSourceExceptions ?? [];
      this.latestSystemExceptions = last.latestSystemExceptions ?? [];
    } catch {
      // A broken instance may not answer; the counters above are enough.
    }
  }

  /** Messages of the exceptions of the last minute, for the exception gauges. */
  recentExceptions(): { connector: string[]; system: string[] } {
    const status = this.status() as Partial<SinkInstanceStatusData & SourceInstanceStatusData>;
    const since = Date.now() - 60_000;
    const recent = (list: ExceptionInformation[] | undefined) =>
      (list ?? []).filter((entry) => entry.timestampMs >= since).map((entry) => this.scrub(entry.exceptionString));
    // The failure that ended the last run counts as a system exception, as an instance's death does upstream.
    const death = this.lastErrorTime >= since && this.lastError ? [this.lastError] : [];
    return {
      connector: recent(status.latestSinkExceptions ?? status.latestSourceExceptions),
      system: [...recent(status.latestSystemExceptions), ...death],
    };
  }

  /** Totals for metrics. */
  counters(): SlotCounters {
    const live = this.instance?.stats;
    return {
      received: this.totals.received + (live?.received ?? 0),
      written: this.totals.written + (live?.written ?? 0),
      connectorExceptions: this.totals.connectorExceptions + (live?.connectorExceptions ?? 0),
      systemExceptions: this.totals.systemExceptions + (live?.systemExceptions ?? 0),
      deadLettered: this.totals.deadLettered + (live?.deadLettered ?? 0),
      dropped: this.totals.dropped + (live?.dropped ?? 0),
      lastReceivedTime: Math.max(this.totals.lastReceivedTime, live?.lastReceivedTime ?? 0),
      userMetrics: live?.userMetrics ?? new Map(),
      writeLatency: live?.writeLatency ?? NO_LATENCY,
    };
  }

  private describe(liveState: string | undefined): string {
    switch (this.phase) {
      case "backoff":
        return `restarting in ${Math.max(0, Math.ceil((this.restartAt - Date.now()) / 1000))}s after: ${this.lastError}`;
      case "stopped":
        return "stopped";
      case "stopping":
        return "stopping";
      case "starting":
        return this.numRestarts > 0 ? `starting (restart ${this.numRestarts})` : "starting";
      case "finished":
        return "finished: the source has no more records";
      default:
        return liveState || "running";
    }
  }

  /** Upstream-shaped instance status, with `state` and `stalled` saying what is going on. */
  status(): InstanceStatus {
    let live: Partial<SinkInstanceStatusData & SourceInstanceStatusData> | undefined;
    try {
      live = this.instance?.status() as Partial<SinkInstanceStatusData & SourceInstanceStatusData> | undefined;
    } catch {
      live = undefined;
    }
    const counters = this.counters();
    const running = this.phase === "running" && live?.running !== false;
    const error = this.scrub(running ? (live?.error ?? "") : live?.error || this.lastError);
    const scrubbed = (list: ExceptionInformation[] | undefined, fallback: ExceptionInformation[]) =>
      (list ?? fallback).map((entry) => ({ ...entry, exceptionString: this.scrub(entry.exceptionString) }));
    return upstreamInstanceStatus(this.kind, {
      running,
      error,
      numRestarts: this.numRestarts,
      received: counters.received,
      written: counters.written,
      connectorExceptions: counters.connectorExceptions,
      systemExceptions: counters.systemExceptions,
      deadLettered: counters.deadLettered,
      dropped: counters.dropped,
      latestConnectorExceptions: scrubbed(
        live?.latestSinkExceptions ?? live?.latestSourceExceptions,
        this.latestConnectorExceptions,
      ),
      latestSystemExceptions: scrubbed(live?.latestSystemExceptions, this.latestSystemExceptions),
      lastReceivedTime: counters.lastReceivedTime,
      workerId: this.workerId,
      stalled: live?.stalled ?? false,
      state: this.scrub(this.describe(live?.state)),
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
