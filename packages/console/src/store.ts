import { useEffect, useState } from "preact/hooks";
import { ApiError, type ConnectorSummary, call } from "./api.ts";
import { record } from "./history.ts";

/** How often the console asks the worker for the connector list (and so the rate resolution of the charts). */
export const POLL_MS = 2_000;

interface Snapshot {
  at: number;
  connectors: ConnectorSummary[];
  error: string | null;
}

let snapshot: Snapshot | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
/** True while a request is out: one polling loop at a time, however many pages subscribe. */
let polling = false;
/** Set when a refresh is asked for during a request: the next one starts right after it. */
let again = false;
const subscribers = new Set<(value: Snapshot) => void>();

async function poll(): Promise<void> {
  if (polling) return;
  polling = true;
  timer = undefined;
  try {
    const answer = await call<{ at: number; connectors: ConnectorSummary[] }>("GET", "/console/api/v1/connectors");
    record(answer.at, answer.connectors);
    snapshot = { at: answer.at, connectors: answer.connectors, error: null };
  } catch (error) {
    snapshot = {
      at: Date.now(),
      connectors: snapshot?.connectors ?? [],
      error: error instanceof ApiError || error instanceof Error ? error.message : String(error),
    };
  }
  polling = false;
  for (const subscriber of subscribers) subscriber(snapshot);
  const delay = again ? 0 : POLL_MS;
  again = false;
  if (subscribers.size > 0) timer = setTimeout(() => void poll(), delay);
}

/** Asks for the list now instead of at the next tick (after an action). */
export function refreshNow(): void {
  if (polling) {
    again = true;
    return;
  }
  if (timer !== undefined) clearTimeout(timer);
  void poll();
}

/** The connector list, polled while a page uses it. */
export function useConnectors(): Snapshot | null {
  const [value, setValue] = useState<Snapshot | null>(snapshot);
  useEffect(() => {
    subscribers.add(setValue);
    if (timer === undefined && !polling) void poll();
    return () => {
      subscribers.delete(setValue);
    };
  }, []);
  return value;
}
