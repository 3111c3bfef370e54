import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { describe, expect, it } from "vitest";
import type { SourceProcessSettings } from "./source-process.ts";

/** What a source's kill test needs to know about the connector and its external system. */
export interface SourceKillOptions {
  /** Path or file: URL of the module whose default export is the source definition. */
  connectorModule: string;
  /** A valid `configs` object for a fresh, empty origin (queue, stream, subject...). Called once per test. */
  config: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Puts one record per id into the origin, each with the value `{"id": <id>}` as JSON. */
  seed: (configs: Record<string, unknown>, ids: number[]) => Promise<void>;
  /**
   * True once the origin holds nothing left to read. Also checked after the second process stopped: whatever it read
   * and did not acknowledge would be back by then, so this proves every record was acknowledged at the origin.
   */
  drained: (configs: Record<string, unknown>) => Promise<boolean>;
  /** The guarantees to kill at. EFFECTIVELY_ONCE needs a source with partitionId + sequence. */
  guarantees: Array<"ATLEAST_ONCE" | "EFFECTIVELY_ONCE">;
  pulsar: { serviceUrl: string; adminUrl: string };
  secrets?: Record<string, string>;
  /** Records seeded before the first run (default 5000: more than the runtime's in-flight window). */
  total?: number;
}

const processFile = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "./source-process.ts" : "./source-process.mjs", import.meta.url),
);

function startProcess(settings: SourceProcessSettings): ChildProcess {
  const conditions = processFile.endsWith(".ts") ? ["--conditions=@pulsar-connect/source"] : [];
  return spawn(process.execPath, [...conditions, processFile], {
    env: { ...process.env, PC_SOURCE_PROCESS: JSON.stringify(settings) },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function admin(adminUrl: string, method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(`${adminUrl}${path}`, init);
}

/** Messages the broker stored in a topic so far (duplicates included unless deduplicated). */
async function storedCount(adminUrl: string, topic: string): Promise<number> {
  const response = await admin(adminUrl, "GET", `/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`);
  if (response.status !== 200) return 0;
  return ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
}

/** How often each id is stored in a topic: reads exactly as many messages as the broker says it holds. */
async function idsIn(serviceUrl: string, adminUrl: string, topic: string): Promise<Map<number, number>> {
  const stored = await storedCount(adminUrl, topic);
  const client = new PulsarClient({ serviceUrl });
  try {
    const consumer = await client.subscribe({
      topic,
      subscription: `verify-${Date.now().toString(36)}`,
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
    });
    const seen = new Map<number, number>();
    for (let received = 0; received < stored; received += 1) {
      const message = await consumer.receive();
      const { id } = JSON.parse(Buffer.from(message.data).toString()) as { id: number };
      seen.set(id, (seen.get(id) ?? 0) + 1);
      await consumer.acknowledge(message);
    }
    await consumer.close();
    return seen;
  } finally {
    await client.close();
  }
}

/**
 * Declares one test per guarantee: a source instance in a child process reads seeded records and SIGKILLs itself at
 * a Pulsar send whose receipt is pending (the kill point is a send number between 10% and 50% of the records, from
 * PC_CRASH_SEED when set); a second process with the same config finishes. Every record must then be in Pulsar
 * (ATLEAST_ONCE), or each exactly once (EFFECTIVELY_ONCE, broker deduplication on), and the origin fully acked.
 */
export function describeSourceKill(name: string, options: SourceKillOptions): void {
  const total = options.total ?? 5000;
  const seed = Number(process.env.PC_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const { serviceUrl, adminUrl } = options.pulsar;
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

  describe(`${name}: source killed mid-stream (SIGKILL, receipt pending)`, () => {
    for (const guarantee of options.guarantees) {
      it(`${guarantee}: every record reaches Pulsar${guarantee === "EFFECTIVELY_ONCE" ? " exactly once" : ""}`, {
        timeout: 240_000,
      }, async () => {
        const killAtSend = Math.floor(total / 10 + ((seed >>> 0) % Math.floor((total * 4) / 10)));
        process.stdout.write(`${name} ${guarantee}: kill at send ${killAtSend} (PC_CRASH_SEED=${seed})\n`);
        let namespace = "public/default";
        if (guarantee === "EFFECTIVELY_ONCE") {
          namespace = `public/${name.replace(/[^a-z0-9]/gi, "-")}-kill-${run}`;
          expect((await admin(adminUrl, "PUT", `/admin/v2/namespaces/${namespace}`)).status).toBeLessThan(300);
          const dedup = await admin(adminUrl, "POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
          expect(dedup.status).toBeLessThan(300);
        }
        const topic = `persistent://${namespace}/${name.replace(/[^a-z0-9]/gi, "-")}-kill-${guarantee.toLowerCase()}-${run}`;
        const configs = await options.config();
        await options.seed(
          configs,
          Array.from({ length: total }, (_, id) => id),
        );
        const settings: SourceProcessSettings = {
          connectorModule: options.connectorModule,
          configs,
          secrets: options.secrets ?? {},
          serviceUrl,
          adminUrl,
          topic,
          name: `kill-${guarantee.toLowerCase()}-${run}`,
          guarantee,
        };
        const first = startProcess({ ...settings, killAtSend });
        const limit = setTimeout(() => first.kill("SIGTERM"), 120_000);
        const firstExit = await exited(first);
        clearTimeout(limit);
        expect(firstExit, "the first process dies by SIGKILL at its kill point").toEqual({
          code: null,
          signal: "SIGKILL",
        });
        const atKill = await storedCount(adminUrl, topic);
        expect(atKill, "the kill lands before the end of the stream").toBeLessThan(total);

        const second = startProcess(settings);
        try {
          await waitUntil(
            async () => (await storedCount(adminUrl, topic)) >= total && (await options.drained(configs)),
            150_000,
            "the restarted source to store and acknowledge every record",
          );
        } finally {
          second.kill("SIGTERM");
          await exited(second);
        }
        expect(await options.drained(configs), "every record acknowledged at the origin").toBe(true);
        const seen = await idsIn(serviceUrl, adminUrl, topic);
        const missing = Array.from({ length: total }, (_, id) => id).filter((id) => !seen.has(id));
        expect(missing, "records lost").toEqual([]);
        if (guarantee === "EFFECTIVELY_ONCE") {
          expect([...seen.values()].filter((n) => n > 1).length, "records stored twice").toBe(0);
        }
        process.stdout.write(
          `${name} ${guarantee}: ${atKill} stored at the kill, ${[...seen.values()].reduce((a, b) => a + b, 0)} in the end for ${total} records\n`,
        );
      });
    }
  });
}
