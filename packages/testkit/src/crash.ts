// The crash harness: a source instance in a process of its own that a test SIGKILLs at a chosen Pulsar send, and
// what the test needs to check the outcome against the broker.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import type { SourceProcessSettings } from "./source-process.ts";

export type { SourceProcessSettings } from "./source-process.ts";

const processFile = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "./source-process.ts" : "./source-process.mjs", import.meta.url),
);

/** The seed of the kill points: PC_CRASH_SEED when set (to replay a run), random otherwise. */
export function crashSeed(): number {
  return Number(process.env.PC_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
}

/** A send number between 10% and 50% of `total`, from `seed` (a different `salt` gives another point). */
export function killPoint(seed: number, total: number, salt = 0): number {
  return Math.floor(total / 10 + (((seed ^ (salt * 0x9e3779b9)) >>> 0) % Math.floor((total * 4) / 10)));
}

/**
 * Starts a source instance through the runtime in a child process. With `killAtSend` the child SIGKILLs itself at
 * that send while its receipt is pending. Its stderr (warnings and errors of the instance) is passed through.
 */
export function startSourceProcess(settings: SourceProcessSettings): ChildProcess {
  const conditions = processFile.endsWith(".ts") ? ["--conditions=@pulsar-connect/source"] : [];
  return spawn(process.execPath, [...conditions, processFile], {
    env: { ...process.env, PC_SOURCE_PROCESS: JSON.stringify(settings) },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** How a child process ended (at once when it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Messages the broker stored in a topic so far (duplicates included unless deduplicated); 0 before it exists. */
export async function storedCount(adminUrl: string, topic: string): Promise<number> {
  try {
    const stats = await new PulsarAdmin({ serviceUrl: adminUrl }).getTopicStats(topic);
    return (stats.msgInCounter as number | undefined) ?? 0;
  } catch {
    return 0;
  }
}

/**
 * How often each id is stored in a topic: reads exactly as many messages as the broker says it holds, so a duplicate
 * cannot hide behind a time-out. `idOf` picks the id from the JSON value (default: its `id` field).
 */
export async function storedIds(
  pulsar: { serviceUrl: string; adminUrl: string },
  topic: string,
  idOf: (value: unknown) => number = (value) => (value as { id: number }).id,
): Promise<{ received: number; seen: Map<number, number>; repeated: number }> {
  const stored = await storedCount(pulsar.adminUrl, topic);
  const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
  try {
    const consumer = await client.subscribe({
      topic,
      subscription: `verify-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`,
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
    });
    const seen = new Map<number, number>();
    let received = 0;
    while (received < stored) {
      const message = await consumer.receive();
      received += 1;
      const id = idOf(JSON.parse(Buffer.from(message.data).toString()));
      seen.set(id, (seen.get(id) ?? 0) + 1);
      await consumer.acknowledge(message);
    }
    await consumer.close();
    return { received, seen, repeated: [...seen.values()].filter((n) => n > 1).length };
  } finally {
    await client.close();
  }
}

/** A new namespace under `public` with broker deduplication on (what EFFECTIVELY_ONCE sources need). */
export async function createDedupNamespace(adminUrl: string, name: string): Promise<string> {
  const namespace = `public/${name.replace(/[^a-zA-Z0-9-]/g, "-")}`;
  const admin = new PulsarAdmin({ serviceUrl: adminUrl });
  await admin.createNamespace(namespace);
  await admin.setDeduplication(namespace, true);
  return namespace;
}
