import type { ConnectorSummary } from "./api.ts";

/** One point of a connector's throughput: records per second between two polls. */
export interface RatePoint {
  at: number;
  inPerSec: number;
  outPerSec: number;
}

const KEEP_MS = 60 * 60 * 1000;
const last = new Map<string, { at: number; received: number; written: number }>();
const series = new Map<string, RatePoint[]>();

export const keyOf = (c: Pick<ConnectorSummary, "kind" | "tenant" | "namespace" | "name">) =>
  `${c.kind}:${c.tenant}/${c.namespace}/${c.name}`;

/**
 * Adds a poll of the connector list to the history kept in the page (the last hour); rates are counter gains over
 * the time between polls. A counter that went down (a worker restart) starts a new baseline.
 */
export function record(at: number, connectors: ConnectorSummary[]): void {
  for (const connector of connectors) {
    const key = keyOf(connector);
    const previous = last.get(key);
    // Polls closer than a second apart give noisy rates: keep the older baseline until a second has passed.
    if (previous && at - previous.at < 1000 && at >= previous.at) continue;
    last.set(key, { at, received: connector.received, written: connector.written });
    if (!previous || at <= previous.at) continue;
    const seconds = (at - previous.at) / 1000;
    const gainIn = connector.received - previous.received;
    const gainOut = connector.written - previous.written;
    if (gainIn < 0 || gainOut < 0) continue;
    const points = series.get(key) ?? [];
    points.push({ at, inPerSec: gainIn / seconds, outPerSec: gainOut / seconds });
    while (points.length > 0 && (points[0] as RatePoint).at < at - KEEP_MS) points.shift();
    series.set(key, points);
  }
}

export function historyOf(key: string): RatePoint[] {
  return series.get(key) ?? [];
}
