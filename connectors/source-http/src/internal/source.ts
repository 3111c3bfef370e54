import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ConnectorError,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import type { HttpSourceConfig } from "../definition.ts";
import { bodyValue, sameSecret, signatureMatches } from "./checks.ts";

/** A request whose record is on its way: it is answered once, by the receipt, a failure, a timeout or the stop. */
interface Exchange {
  response: ServerResponse;
  answered: boolean;
  timer?: NodeJS.Timeout;
}

/** An answer given without reading the body. */
interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** How long an empty read waits for a request before it returns nothing. */
const IDLE_READ_MS = 1000;

/**
 * An HTTP server on host:port. A POST to `path` becomes a record; its answer waits for the record's ack (after the
 * Pulsar receipt under ATLEAST_ONCE): 204 then, 503 when the send fails, takes longer than `receiptTimeoutMs`, or
 * the instance stops first. A client that retries until it gets a 2xx loses nothing.
 */
export class HttpSource implements SourceInstance {
  private readonly config: HttpSourceConfig;
  private readonly context: SourceContext;
  private readonly server: Server;
  private readonly queue: SourceRecord[] = [];
  private readonly unanswered = new Set<Exchange>();
  private wake: (() => void) | undefined;
  private stopping = false;

  private constructor(config: HttpSourceConfig, context: SourceContext) {
    this.config = config;
    this.context = context;
    this.server = createServer((request, response) => this.handle(request, response));
    context.signal.addEventListener("abort", () => {
      this.stopping = true;
      this.wake?.();
    });
  }

  static async open(config: HttpSourceConfig, context: SourceContext): Promise<HttpSource> {
    if (context.processingGuarantee === "EFFECTIVELY_ONCE") {
      throw new ConnectorError(
        "UNSUPPORTED",
        "the http source does not support EFFECTIVELY_ONCE: a webhook request carries no sequence to deduplicate " +
          "by; use ATLEAST_ONCE (clients retry until they get a 2xx)",
        { retryable: false },
      );
    }
    if (context.numInstances > 1) {
      throw new ConnectorError(
        "INVALID_CONFIG",
        `parallelism ${context.numInstances}: the http source listens on one port (${config.host}:${config.port}), ` +
          "so it runs one instance; run several sources on different ports behind a load balancer instead",
        { retryable: false },
      );
    }
    const source = new HttpSource(config, context);
    await source.listen();
    return source;
  }

  /** The port the server listens on (the configured one, or the one the system chose for port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private listen(): Promise<void> {
    const { host, port } = this.config;
    return new Promise((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) =>
        reject(
          new ConnectorError("CONNECTION_FAILED", `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, {
            // Taken: maybe by an instance still stopping, so worth another try; a bad address never is.
            retryable: error.code === "EADDRINUSE",
            cause: error,
          }),
        );
      this.server.once("error", failed);
      this.server.listen({ host, port }, () => {
        this.server.off("error", failed);
        this.server.on("error", (error) => this.context.logger.warn({ err: error.message }, "http server error"));
        this.context.logger.info({ host, port: this.port, path: this.config.path }, "listening for webhooks");
        resolve();
      });
    });
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[]> {
    if (this.queue.length === 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, IDLE_READ_MS);
        this.wake = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.wake = undefined;
    }
    return this.queue.splice(0, Math.max(1, maxRecords));
  }

  /** Why a request is answered before its body is read, or undefined when it is read. */
  private refusalOf(request: IncomingMessage): Refusal | undefined {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== this.config.path) return { status: 404, message: "no webhook at this path" };
    if (request.method !== "POST") return { status: 405, message: "only POST is accepted", headers: { Allow: "POST" } };
    if (this.stopping) return { status: 503, message: "stopping", headers: { "Retry-After": "1" } };
    const token = this.config.bearerToken;
    if (token !== undefined && !sameSecret(request.headers.authorization, `Bearer ${token}`)) {
      return { status: 401, message: "missing or wrong bearer token", headers: { "WWW-Authenticate": "Bearer" } };
    }
    if (Number(request.headers["content-length"] ?? 0) > this.config.maxBodyBytes) return { status: 413, message: "" };
    if (this.unanswered.size >= this.config.maxPendingRequests) {
      return { status: 503, message: "too many requests waiting for Pulsar", headers: { "Retry-After": "1" } };
    }
    return undefined;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const refusal = this.refusalOf(request);
    if (refusal?.status === 413) {
      tooLarge(request, response, this.config.maxBodyBytes);
      return;
    }
    if (refusal) {
      request.resume();
      reply(response, refusal.status, refusal.message, refusal.headers ?? {});
      return;
    }
    const exchange: Exchange = { response, answered: false };
    this.unanswered.add(exchange);
    response.once("close", () => {
      // Answered, or the client went away: its record may still be stored, and a retry then duplicates it.
      exchange.answered = true;
      clearTimeout(exchange.timer);
      this.unanswered.delete(exchange);
    });
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.config.maxBodyBytes) {
        if (!exchange.answered) {
          exchange.answered = true;
          tooLarge(request, response, this.config.maxBodyBytes);
        }
        return;
      }
      chunks.push(chunk);
    });
    request.once("end", () => {
      if (exchange.answered) return;
      this.accept(exchange, request, Buffer.concat(chunks));
    });
  }

  private accept(exchange: Exchange, request: IncomingMessage, body: Buffer): void {
    const config = this.config;
    if (config.signatureHeader !== undefined && config.signatureSecret !== undefined) {
      const header = request.headers[config.signatureHeader.toLowerCase()];
      if (!signatureMatches(headerText(header), body, config.signatureSecret, config.signaturePrefix)) {
        this.answer(exchange, 401, `missing or wrong signature in ${config.signatureHeader}`);
        return;
      }
    }
    const parsed = bodyValue(body, config.bodyFormat);
    if ("refused" in parsed) {
      this.answer(exchange, 400, parsed.refused);
      return;
    }
    const properties: Record<string, string> = {};
    for (const name of config.headerProperties) {
      const value = headerText(request.headers[name.toLowerCase()]);
      if (value !== undefined) properties[name.toLowerCase()] = value;
    }
    const record: SourceRecord = { value: parsed.value, properties, eventTime: Date.now() };
    const key =
      config.keyHeader === undefined ? undefined : headerText(request.headers[config.keyHeader.toLowerCase()]);
    if (key !== undefined) record.key = key;
    record.ack = () => this.answer(exchange, 204, "");
    record.fail = (error) =>
      this.answer(exchange, 503, `not stored in Pulsar: ${error.message}`, { "Retry-After": "1" });
    exchange.timer = setTimeout(
      () =>
        this.answer(exchange, 503, `no Pulsar receipt within ${config.receiptTimeoutMs} ms`, { "Retry-After": "1" }),
      config.receiptTimeoutMs,
    );
    this.queue.push(record);
    this.wake?.();
  }

  private answer(exchange: Exchange, status: number, message: string, headers: Record<string, string> = {}): void {
    if (exchange.answered) return;
    exchange.answered = true;
    clearTimeout(exchange.timer);
    this.unanswered.delete(exchange);
    reply(exchange.response, status, message, headers);
  }

  async close(): Promise<void> {
    this.stopping = true;
    // Whatever has no receipt yet is answered 503 now: the client retries against the next instance.
    for (const exchange of [...this.unanswered]) this.answer(exchange, 503, "stopping", { "Retry-After": "1" });
    this.queue.length = 0;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // Connections still busy sending a body get a moment for their answer, then go.
    const force = setTimeout(() => this.server.closeAllConnections(), 2000);
    force.unref();
    await closed;
    clearTimeout(force);
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

function reply(response: ServerResponse, status: number, message: string, headers: Record<string, string>): void {
  if (response.headersSent || response.destroyed) return;
  if (status === 204) {
    response.writeHead(204, headers).end();
    return;
  }
  response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers }).end(`${message}\n`);
}

/** 413, then the connection closes: the rest of the body is not read. */
function tooLarge(request: IncomingMessage, response: ServerResponse, limit: number): void {
  reply(response, 413, `the body is larger than ${limit} bytes`, { Connection: "close" });
  response.once("finish", () => request.destroy());
}
