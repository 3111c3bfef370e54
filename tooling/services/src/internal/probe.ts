import { connect } from "node:net";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True when something accepts a TCP connection on host:port within `timeoutMs`. */
export function tcpOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export async function httpGet(url: string, timeoutMs = 3_000): Promise<HttpAnswer | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Returns a reason when waiting is pointless (the process exited). */
  abort?: () => string | undefined;
}

export type WaitOutcome = { ready: true } | { ready: false; reason: string };

/** Polls `check` until it answers true, the deadline passes, or `abort` gives a reason. */
export async function waitUntil(check: () => Promise<boolean>, options: WaitOptions): Promise<WaitOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted !== undefined) return { ready: false, reason: aborted };
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false;
    }
    if (ok) return { ready: true };
    const abortedAfter = options.abort?.();
    if (abortedAfter !== undefined) return { ready: false, reason: abortedAfter };
    if (Date.now() >= deadline) {
      return { ready: false, reason: `not ready after ${Math.round(options.timeoutMs / 1000)} s` };
    }
    await sleep(options.intervalMs ?? 1_000);
  }
}

/**
 * Connects, writes `greeting` (if any) and resolves true once the bytes received satisfy `answered`; false on
 * error, close or timeout. Probes speak each server's protocol instead of trusting an open port.
 */
export function tcpExchange(
  host: string,
  port: number,
  greeting: Buffer | undefined,
  answered: (received: Buffer) => boolean,
  timeoutMs = 2_000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => {
      if (greeting) socket.write(greeting);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (answered(received)) done(true);
    });
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}
