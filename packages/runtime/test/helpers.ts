// Setup shared by the runtime's integration tests.
import { defineSink, type SinkRecord, z } from "@pulsar-connect/core";

/** A call of the Pulsar admin REST API at `adminUrl`: the parsed JSON answer; throws on any status of 300 or above. */
export function pulsarAdmin(adminUrl: string): (method: string, path: string, body?: unknown) => Promise<unknown> {
  return async (method, path, body) => {
    const init: RequestInit = { method, headers: { "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${adminUrl}${path}`, init);
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/** Polls `check` every 50 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A sink named "memory" that accepts every record and keeps it in `written`. */
export function memorySink(): { written: SinkRecord[]; definition: ReturnType<typeof defineSink> } {
  const written: SinkRecord[] = [];
  const definition = defineSink({
    name: "memory",
    description: "keeps records in memory",
    config: z.object({}),
    async open() {
      return {
        async write(records: SinkRecord[]) {
          written.push(...records);
          return { failed: [] };
        },
        async close() {},
      };
    },
  });
  return { written, definition };
}
