import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  validateHeaderName,
  validateHeaderValue,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { ConnectorError, REDACTED } from "@pulsar-connect/core";

/** What the receiver answered to one request. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The start of the response body, for error messages. */
  bodyStart: string;
}

/** One POST to send. */
export interface HttpPost {
  headers: Record<string, string>;
  body: Uint8Array;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

/** Keeps connections to one URL open between requests and sends POSTs over them. */
export class HttpPoster {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly timeoutMs: number;
  /** Where requests go, without credentials or query (both may carry secrets): safe for messages and logs. */
  readonly target: string;

  constructor(url: string, timeoutMs: number) {
    this.url = new URL(url);
    this.timeoutMs = timeoutMs;
    this.target = `${this.url.origin}${this.url.pathname}`;
    const agentOptions = { keepAlive: true, maxSockets: 4 };
    this.agent = this.url.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  /** Sends one POST; resolves with any answer, rejects with a retryable ConnectorError when none came. */
  post(post: HttpPost, signal: AbortSignal): Promise<HttpAnswer> {
    const send = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: ConnectorError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        reject(error);
      };
      const request = send(this.url, {
        method: "POST",
        agent: this.agent,
        headers: { ...post.headers, "Content-Length": String(post.body.byteLength) },
        signal,
      });
      const timer = setTimeout(
        () =>
          fail(
            new ConnectorError("TIMEOUT", `no complete answer from ${this.target} within ${this.timeoutMs} ms`, {
              retryable: true,
            }),
          ),
        this.timeoutMs,
      );
      request.once("error", (error: NodeJS.ErrnoException) => {
        if (signal.aborted) {
          fail(new ConnectorError("CLOSED", `request to ${this.target} cancelled: the sink is stopping`));
          return;
        }
        const code = error.code ?? "";
        fail(
          new ConnectorError(
            NETWORK_CODES.has(code) ? "CONNECTION_FAILED" : "WRITE_FAILED",
            `cannot reach ${this.target}: ${code || error.message}`,
            { retryable: true, cause: error },
          ),
        );
      });
      request.once("response", (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on("data", (chunk: Buffer) => {
          // Only the start is kept for messages; the rest is read so the connection can be used again.
          if (kept < 512) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        response.once("error", () => {});
        response.once("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            bodyStart: Buffer.concat(chunks).subarray(0, 512).toString("utf8"),
          });
        });
      });
      request.end(post.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Milliseconds a Retry-After header asks to wait (delta seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** How an answer settles the records of its request. */
export type Verdict =
  | { kind: "written" }
  /** Not about the records: try again later (with `waitMs` from Retry-After when the receiver gave one). */
  | { kind: "retry"; error: ConnectorError; waitMs?: number }
  /** The receiver refuses these records for good: the dead-letter path. */
  | { kind: "refused"; error: ConnectorError }
  /** The receiver refuses the credentials: not about the records, the instance stops. */
  | { kind: "unauthorized"; error: ConnectorError };

/** Sorts an answer: 2xx written; 408, 429, 5xx and redirects retried; 401/403 end the instance; other 4xx refused. */
export function verdictOf(answer: HttpAnswer, target: string, secrets: readonly string[] = []): Verdict {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: "written" };
  // A receiver may echo the request back: secret header values never reach a message, a log or the status.
  let start = answer.bodyStart.trim().slice(0, 200);
  for (const secret of secrets) if (secret.length > 0) start = start.replaceAll(secret, REDACTED);
  const detail = start ? `: ${start}` : "";
  const what = `${target} answered ${status}${detail}`;
  if (status === 401 || status === 403) {
    return { kind: "unauthorized", error: new ConnectorError("AUTH_FAILED", what, { retryable: false }) };
  }
  if (status === 429 || status === 503) {
    const header = answer.headers["retry-after"];
    const waitMs = retryAfterMs(Array.isArray(header) ? header[0] : header);
    const error = new ConnectorError("WRITE_FAILED", what, { retryable: true });
    return waitMs === undefined ? { kind: "retry", error } : { kind: "retry", error, waitMs };
  }
  if (status === 408 || status >= 500) {
    return { kind: "retry", error: new ConnectorError("WRITE_FAILED", what, { retryable: true }) };
  }
  if (status >= 300 && status < 400) {
    const location = answer.headers.location ? ` to ${answer.headers.location}` : "";
    return {
      kind: "retry",
      error: new ConnectorError("WRITE_FAILED", `${target} answered ${status}: redirects${location} are not followed`, {
        retryable: true,
      }),
    };
  }
  return { kind: "refused", error: new ConnectorError("INVALID_RECORD", what, { retryable: false }) };
}

/** Throws a non-retryable INVALID_RECORD error when `name: value` cannot be an HTTP header (the value is never shown). */
export function checkHeader(name: string, value: string): void {
  const refuse = (why: string) =>
    new ConnectorError("INVALID_RECORD", `header ${JSON.stringify(name)} ${why}`, { retryable: false });
  try {
    validateHeaderName(name);
  } catch {
    throw refuse("is not a valid header name");
  }
  const cannot = "cannot carry its value (only Latin-1 text without control characters can be sent)";
  try {
    validateHeaderValue(name, value);
  } catch {
    throw refuse(cannot);
  }
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) throw refuse(cannot);
}
