import { useEffect, useState } from "preact/hooks";
import { ApiError, type ConnectorSummary, call, currentToken, onTokenChange } from "./api.ts";
import { follow, type StreamState } from "./events.ts";
import { addSamples, type Sample } from "./history.ts";

export interface Snapshot {
  at: number;
  connectors: ConnectorSummary[];
  error: string | null;
  /** The event stream's state: "live" while the worker pushes updates. */
  stream: StreamState;
}

let snapshot: Snapshot | null = null;
let stop: (() => void) | undefined;
const subscribers = new Set<(value: Snapshot) => void>();

// What one login saw is not shown to the next (the stream itself ends with the token, see events.ts).
onTokenChange(() => {
  if (currentToken() === null) snapshot = null;
});

function publish(next: Snapshot): void {
  snapshot = next;
  for (const subscriber of subscribers) subscriber(next);
}

/** Follows the worker's connector list stream while a page shows the list; one stream however many pages do. */
function start(): void {
  if (stop) return;
  stop = follow(
    "/console/api/v1/events/connectors",
    {
      connectors: (data: { at: number; connectors: ConnectorSummary[] }) =>
        publish({ at: data.at, connectors: data.connectors, error: null, stream: "live" }),
      samples: (data: { connectors: Record<string, Sample[]> }) => {
        addSamples(data.connectors);
        if (snapshot) publish({ ...snapshot });
      },
    },
    (state, reason) => {
      if (snapshot || state === "retrying") {
        publish({
          at: snapshot?.at ?? Date.now(),
          connectors: snapshot?.connectors ?? [],
          error: state === "retrying" ? (reason ?? "connection lost") : (snapshot?.error ?? null),
          stream: state,
        });
      }
    },
  );
}

/** Asks for the list now (after an action), besides what the stream pushes. */
export function refreshNow(): void {
  call<{ at: number; connectors: ConnectorSummary[] }>("GET", "/console/api/v1/connectors").then(
    (answer) =>
      publish({ at: answer.at, connectors: answer.connectors, error: null, stream: snapshot?.stream ?? "live" }),
    (error: unknown) => {
      if (snapshot) publish({ ...snapshot, error: error instanceof ApiError ? error.message : String(error) });
    },
  );
}

/** The connector list, pushed by the worker while a page uses it. */
export function useConnectors(): Snapshot | null {
  const [value, setValue] = useState<Snapshot | null>(snapshot);
  useEffect(() => {
    subscribers.add(setValue);
    start();
    return () => {
      subscribers.delete(setValue);
      if (subscribers.size === 0) {
        stop?.();
        stop = undefined;
      }
    };
  }, []);
  return value;
}
