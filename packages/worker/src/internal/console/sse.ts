import type { IncomingMessage, ServerResponse } from "node:http";

/** How long the browser waits before it connects again after a stream ended (the `retry:` field). */
const RECONNECT_MS = 2_000;

/**
 * One Server-Sent Events response: named events with JSON data. It ends when the client goes away, when
 * {@link end} is called (logout is the client going away; worker shutdown calls `end`), or when a write fails.
 */
export class SseStream {
  private readonly response: ServerResponse;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  /** Resolves once the stream has ended, whoever ended it. */
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;

  constructor(request: IncomingMessage, response: ServerResponse) {
    this.response = response;
    this.ended = new Promise((done) => {
      this.resolveEnded = done;
    });
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // A proxy in front of the worker must pass each event on at once instead of buffering the response.
      "x-accel-buffering": "no",
    });
    response.write(`retry: ${RECONNECT_MS}\n\n`);
    request.on("close", () => this.end());
    response.on("error", () => this.end());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  send(event: string, data: unknown): void {
    if (this.closed) return;
    // JSON text has no raw line breaks, so it fits one `data:` line.
    this.response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line: keeps idle proxies from closing the connection. */
  keepAlive(): void {
    if (!this.closed) this.response.write(": keep-alive\n\n");
  }

  /** Waits `ms`, or less if the stream ends meanwhile; the timer does not keep the process alive. */
  pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((done) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      timer.unref();
      this.waiters.add(finish);
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.response.writableEnded) this.response.end();
    for (const waiter of [...this.waiters]) waiter();
    this.resolveEnded();
  }
}
