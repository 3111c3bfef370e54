import { currentToken, onTokenChange, setToken } from "./api.ts";

export type StreamState = "connecting" | "live" | "retrying";

/** Every open stream, so that logging out ends them all at once. */
const open = new Set<AbortController>();

onTokenChange(() => {
  if (currentToken() !== null) return;
  for (const controller of open) controller.abort();
  open.clear();
});

/**
 * Follows one of the worker's Server-Sent Events streams (`/console/api/v1/events/...`) with the login token in the
 * Authorization header (EventSource cannot send one, so this reads the stream through fetch). Connects again after
 * a drop, waiting a little longer each time (up to 10 s); a refused token logs the user out. Returns the stop.
 */
export function follow(
  path: string,
  handlers: Record<string, (data: never) => void>,
  onState: (state: StreamState, reason?: string) => void = () => {},
): () => void {
  const controller = new AbortController();
  open.add(controller);
  let delay = 1_000;
  const run = async () => {
    while (!controller.signal.aborted) {
      const token = currentToken();
      if (token === null) return;
      onState("connecting");
      let reason = "connection lost";
      try {
        const response = await fetch(path, {
          headers: { accept: "text/event-stream", authorization: `Bearer ${token}` },
          signal: controller.signal,
        });
        if (response.status === 401) {
          setToken(null);
          return;
        }
        if (!response.ok || !response.body) {
          reason = `the worker answered ${response.status}`;
        } else {
          onState("live");
          delay = 1_000;
          reason = (await read(response.body, handlers)) ?? reason;
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      if (controller.signal.aborted) return;
      onState("retrying", reason);
      await new Promise((done) => setTimeout(done, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => {
    controller.abort();
    open.delete(controller);
  };
}

/** Reads events until the stream ends; gives the worker's reason when it refused to go on. */
async function read(
  body: ReadableStream<Uint8Array>,
  handlers: Record<string, (data: never) => void>,
): Promise<string | undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return undefined;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf("\n\n");
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      const parsed = JSON.parse(data.join("\n")) as never;
      if (event === "refused") return (parsed as { reason: string }).reason;
      handlers[event]?.(parsed);
    }
  }
}
