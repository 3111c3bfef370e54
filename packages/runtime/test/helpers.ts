// Setup shared by the runtime's integration tests.
import { defineSink, type SinkRecord, z } from "@pulsar-connect/core";
import type { PulsarClient } from "@pulsar-connect/pulsar-client";
import { type ConnectorInstance, createInstance, type ResolvedSinkConfig, resolveSinkConfig } from "../src/index.ts";

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

/** Names unique to this run of the test file: `<prefix>-<run>-<n>`. */
export function uniqueNames(): (prefix: string) => string {
  const run = Date.now().toString(36);
  let counter = 0;
  return (prefix) => `${prefix}-${run}-${counter++}`;
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
function memorySink(): { written: SinkRecord[]; definition: ReturnType<typeof defineSink> } {
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

/** An instance (not started) of the "memory" sink named `name`, reading `topic` from its start. */
export function memorySinkInstance(options: { name: string; topic: string; client: PulsarClient; adminUrl: string }): {
  written: SinkRecord[];
  instance: ConnectorInstance;
  config: ResolvedSinkConfig;
} {
  const { written, definition } = memorySink();
  const resolved = resolveSinkConfig({
    name: options.name,
    archive: "builtin://memory",
    inputs: [options.topic],
    sourceSubscriptionPosition: "Earliest",
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "sink",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client: options.client, adminUrl: options.adminUrl },
  });
  return { written, instance, config: resolved.value };
}
