import type { SlotCounters } from "./supervisor.ts";

/** One instance's counters and identity, for the metrics endpoint. */
export interface InstanceMetrics {
  kind: "sink" | "source";
  tenant: string;
  namespace: string;
  name: string;
  instanceId: number;
  counters: SlotCounters;
  /** Exceptions of the last minute (connector side and system side), already free of secret values. */
  recentExceptions: { connector: string[]; system: string[] };
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labels(values: Record<string, string>): string {
  return `{${Object.entries(values)
    .map(([key, value]) => `${key}="${escapeLabel(value)}"`)
    .join(",")}}`;
}

/** The counters that have a one-minute window. */
export type MinuteTotals = Pick<SlotCounters, "received" | "written" | "connectorExceptions" | "systemExceptions">;
type Totals = MinuteTotals;

/**
 * The `_1min` counters of Pulsar IO: what each counter gained since the current one-minute window began. A window
 * starts at the first scrape and is renewed once it is a minute old.
 */
export class MinuteWindows {
  private readonly windows = new Map<string, { startedAt: number; base: Totals }>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** The counters' gain in the current window of `key`. */
  sinceWindowStart(key: string, counters: Totals): Totals {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= 60_000) {
      window = { startedAt: now, base: pickTotals(counters) };
      this.windows.set(key, window);
    }
    const { base } = window;
    // A restarted worker slot keeps its totals, but never report a negative gain.
    return {
      received: Math.max(0, counters.received - base.received),
      written: Math.max(0, counters.written - base.written),
      connectorExceptions: Math.max(0, counters.connectorExceptions - base.connectorExceptions),
      systemExceptions: Math.max(0, counters.systemExceptions - base.systemExceptions),
    };
  }
}

function pickTotals(counters: Totals): Totals {
  return {
    received: counters.received,
    written: counters.written,
    connectorExceptions: counters.connectorExceptions,
    systemExceptions: counters.systemExceptions,
  };
}

/** Counters of ours, beyond Pulsar IO's set; upstream has `_1min` windows for its own counters only. */
const ownCounters = new Set(["pulsar_sink_dead_lettered_total", "pulsar_source_dropped_total"]);

/** Prometheus text exposition of every instance, with Pulsar IO's metric names and labels. */
export function renderMetrics(
  instances: InstanceMetrics[],
  cluster: string,
  windows: MinuteWindows = new MinuteWindows(),
): string {
  const lines: string[] = [];
  const lastMinute = new Map(
    instances.map((instance) => [
      instance,
      windows.sinceWindowStart(
        `${instance.kind}:${identity(instance, cluster).fqfn}:${instance.instanceId}`,
        instance.counters,
      ),
    ]),
  );
  for (const kind of ["sink", "source"] as const) {
    const own = instances.filter((instance) => instance.kind === kind);
    const families: Array<[string, string, "counter" | "gauge", (c: SlotCounters) => number]> = [
      [`pulsar_${kind}_received_total`, "Records received", "counter", (c) => c.received],
      [`pulsar_${kind}_written_total`, "Records written", "counter", (c) => c.written],
      [
        `pulsar_${kind}_${kind}_exceptions_total`,
        `Exceptions raised by the ${kind}`,
        "counter",
        (c) => c.connectorExceptions,
      ],
      [`pulsar_${kind}_system_exceptions_total`, "System exceptions", "counter", (c) => c.systemExceptions],
      [`pulsar_${kind}_last_invocation`, "Epoch ms of the last record received", "gauge", (c) => c.lastReceivedTime],
    ];
    if (kind === "sink") {
      families.push([
        "pulsar_sink_dead_lettered_total",
        "Records sent to the dead-letter topic",
        "counter",
        (c) => c.deadLettered,
      ]);
    } else {
      families.push([
        "pulsar_source_dropped_total",
        "Records given up under ATMOST_ONCE because their send failed",
        "counter",
        (c) => c.dropped,
      ]);
    }
    for (const [metric, help, type, value] of families) {
      lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} ${type}`);
      for (const instance of own) {
        lines.push(`${metric}${labels(identity(instance, cluster))} ${value(instance.counters)}`);
      }
      if (type !== "counter" || ownCounters.has(metric)) continue;
      const minute = `${metric}_1min`;
      lines.push(`# HELP ${minute} ${help} in the current one-minute window`, `# TYPE ${minute} gauge`);
      for (const instance of own) {
        const gained = lastMinute.get(instance) as Totals;
        lines.push(`${minute}${labels(identity(instance, cluster))} ${value({ ...instance.counters, ...gained })}`);
      }
    }
    // Upstream exposes the latest exceptions as gauges set to 1, labelled with the message.
    for (const [metric, pick] of [
      [`pulsar_${kind}_${kind}_exception`, (i: InstanceMetrics) => i.recentExceptions.connector],
      [`pulsar_${kind}_system_exception`, (i: InstanceMetrics) => i.recentExceptions.system],
    ] as const) {
      const withErrors = own.filter((instance) => pick(instance).length > 0);
      if (withErrors.length === 0) continue;
      lines.push(`# HELP ${metric} Exceptions of the last minute`, `# TYPE ${metric} gauge`);
      for (const instance of withErrors) {
        for (const exception of new Set(pick(instance))) {
          lines.push(`${metric}${labels({ ...identity(instance, cluster), exception: exception.slice(0, 200) })} 1`);
        }
      }
    }
    const userMetric = `pulsar_${kind}_user_metric_`;
    const withUser = own.filter((instance) => instance.counters.userMetrics.size > 0);
    if (withUser.length > 0) {
      lines.push(`# HELP ${userMetric} User-defined metrics`, `# TYPE ${userMetric} summary`);
      for (const instance of withUser) {
        for (const [metric, entry] of instance.counters.userMetrics) {
          const base = { ...identity(instance, cluster), metric };
          lines.push(
            `${userMetric}_sum${labels(base)} ${entry.sum}`,
            `${userMetric}_count${labels(base)} ${entry.count}`,
          );
        }
      }
    }
  }
  const memory = process.memoryUsage();
  lines.push(
    "# HELP process_resident_memory_bytes Resident memory size in bytes",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${memory.rss}`,
    "# HELP nodejs_heap_used_bytes V8 heap in use, in bytes",
    "# TYPE nodejs_heap_used_bytes gauge",
    `nodejs_heap_used_bytes ${memory.heapUsed}`,
  );
  return `${lines.join("\n")}\n`;
}

function identity(instance: InstanceMetrics, cluster: string): Record<string, string> {
  const fqfn = `${instance.tenant}/${instance.namespace}/${instance.name}`;
  return {
    tenant: instance.tenant,
    namespace: `${instance.tenant}/${instance.namespace}`,
    name: instance.name,
    instance_id: String(instance.instanceId),
    cluster,
    fqfn,
  };
}
