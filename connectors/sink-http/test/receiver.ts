import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the receiver got, and the status it answered. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: number;
  /** When it arrived (epoch ms). */
  at: number;
}

/** How the receiver answers a request: a status and headers. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string };

/**
 * A real HTTP server (Node's own) that the sink posts to: it keeps every request and answers 200, or what the
 * answer function registered for the request's path says.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly answers = new Map<string, (request: ReceivedRequest, nth: number) => Answer>();
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    server.on("request", (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const path = new URL(request.url ?? "/", "http://x").pathname;
        const received: ReceivedRequest = {
          path,
          headers: request.headers,
          body: Buffer.concat(chunks),
          status: 200,
          at: Date.now(),
        };
        const nth = receiver.requests.filter((r) => r.path === path).length;
        const answer = receiver.answers.get(path)?.(received, nth) ?? { status: 200 };
        received.status = answer.status;
        receiver.requests.push(received);
        response.writeHead(answer.status, answer.headers).end(answer.body ?? (answer.status < 300 ? "ok" : ""));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  /** Base URL of the server, without a trailing slash. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers requests to `path` with what `answer` returns (`nth`: how many requests to that path came before). */
  answer(path: string, answer: (request: ReceivedRequest, nth: number) => Answer): void {
    this.answers.set(path, answer);
  }

  /** Requests to `path` answered with a 2xx. */
  accepted(path: string): ReceivedRequest[] {
    return this.requests.filter((request) => request.path === path && request.status < 300);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
