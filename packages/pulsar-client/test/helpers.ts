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

/** Entries of `subscription` not yet acknowledged, as the broker reports them. */
export async function subscriptionBacklog(admin: PulsarAdmin, topic: string, subscription: string): Promise<number> {
  const stats = (await admin.getTopicStats(topic)) as { subscriptions: Record<string, { msgBacklog: number }> };
  return stats.subscriptions[subscription]?.msgBacklog ?? -1;
}

/** Acknowledgements reach the broker asynchronously: polls the backlog until it is `expected`. */
export async function expectBacklog(
  admin: PulsarAdmin,
  topic: string,
  subscription: string,
  expected: number,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await subscriptionBacklog(admin, topic, subscription);
  while (last !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await subscriptionBacklog(admin, topic, subscription);
  }
  if (last !== expected) throw new Error(`backlog of ${subscription} on ${topic} is ${last}, expected ${expected}`);
}
