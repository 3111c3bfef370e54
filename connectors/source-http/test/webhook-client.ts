import { request } from "node:http";
import { createServer } from "node:net";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Posts `{"id": n}` bodies to a webhook like a well-behaved sender: each one again and again (after connection
 * errors, timeouts and non-2xx answers) until it is answered 2xx. Runs in the background.
 */
export class WebhookClient {
  /** Ids answered 2xx. */
  readonly accepted: Set<number> = new Set();
  /** Every status seen, for diagnostics. */
  readonly statuses: Map<number, number> = new Map();
  private readonly waiting: number[] = [];
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private workers = 0;
  private readonly concurrency: number;
  private readonly giveUpAt: number;

  constructor(
    url: string,
    options: { concurrency?: number; headers?: Record<string, string>; giveUpMs?: number } = {},
  ) {
    this.url = url;
    this.headers = options.headers ?? {};
    this.concurrency = options.concurrency ?? 16;
    this.giveUpAt = Date.now() + (options.giveUpMs ?? 200_000);
  }

  /** Queues ids to post; returns at once. */
  post(ids: number[]): void {
    this.waiting.push(...ids);
    this.total += ids.length;
    // Counted before starting: a worker takes its first id at once.
    const starting = Math.min(this.concurrency - this.workers, this.waiting.length);
    for (let started = 0; started < starting; started += 1) {
      this.workers += 1;
      void this.work().finally(() => {
        this.workers -= 1;
      });
    }
  }

  private total = 0;

  /** Every id posted so far was answered 2xx. */
  get done(): boolean {
    return this.accepted.size === this.total;
  }

  private async work(): Promise<void> {
    for (let id = this.waiting.shift(); id !== undefined; id = this.waiting.shift()) {
      while (Date.now() < this.giveUpAt) {
        try {
          const status = await postOnce(this.url, JSON.stringify({ id }), this.headers);
          this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
          if (status >= 200 && status < 300) {
            this.accepted.add(id);
            break;
          }
        } catch {
          // Not listening yet, killed mid-request, or slow: the same request again.
        }
        await sleep(50);
      }
    }
  }
}

/** One POST on a connection of its own; resolves with the status, rejects on any connection failure. */
export function postOnce(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, {
      method: "POST",
      agent: false,
      headers: { "Content-Type": "application/json", ...headers },
      timeout: 30_000,
    });
    outgoing.once("timeout", () => outgoing.destroy(new Error("timed out")));
    outgoing.once("error", reject);
    outgoing.once("response", (response) => {
      response.resume();
      response.once("end", () => resolve(response.statusCode ?? 0));
      response.once("error", reject);
    });
    outgoing.end(body);
  });
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
