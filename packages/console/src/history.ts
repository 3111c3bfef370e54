import type { ConnectorSummary } from "./api.ts";

/** One interval of a connector as the worker samples it (every 10 s, kept for an hour). */
export interface Sample {
  at: number;
  seconds: number;
  received: number;
  written: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export const inPerSec = (s: Sample) => s.received / s.seconds;
export const outPerSec = (s: Sample) => s.written / s.seconds;

/** The worker keeps an hour; the page keeps no more than it. */
export const HOUR_MS = 60 * 60 * 1000;

export const keyOf = (c: Pick<ConnectorSummary, "kind" | "tenant" | "namespace" | "name">) =>
  `${c.kind}:${c.tenant}/${c.namespace}/${c.name}`;

/** Adds samples the worker sent to what the page has, by time: a sample sent twice (after a reconnect) counts once. */
export function merge(old: Sample[], fresh: Sample[], now = Date.now()): Sample[] {
  const last = old.at(-1)?.at ?? 0;
  const added = fresh.filter((sample) => sample.at > last);
  const all = added.length > 0 ? [...old, ...added] : old;
  const from = now - HOUR_MS;
  return all[0] && all[0].at < from ? all.filter((sample) => sample.at >= from) : all;
}

const series = new Map<string, Sample[]>();

/** The list's samples of each connector (the last ten minutes), fed by its event stream. */
export function addSamples(connectors: Record<string, Sample[]>): void {
  for (const [key, fresh] of Object.entries(connectors)) {
    series.set(key, merge(series.get(key) ?? [], fresh).slice(-60));
  }
}

export function historyOf(key: string): Sample[] {
  return series.get(key) ?? [];
}
