import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import { PulsarAdmin, PulsarClient, type PulsarClientOptions } from "../src/index.ts";

export function endpoints(): { serviceUrl: string; webServiceUrl: string } {
  const p = inject("services")?.pulsar;
  return {
    serviceUrl: p?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    webServiceUrl: p?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function uniqueTopic(prefix: string, namespace = "public/default"): string {
  return `persistent://${namespace}/${uniqueName(prefix)}`;
}

export function newClient(extra: Partial<PulsarClientOptions> = {}): PulsarClient {
  return new PulsarClient({ serviceUrl: endpoints().serviceUrl, operationTimeoutMs: 30_000, ...extra });
}

export function newAdmin(): PulsarAdmin {
  return new PulsarAdmin({ serviceUrl: endpoints().webServiceUrl });
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
