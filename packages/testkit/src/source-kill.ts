import { describe, expect, it, vi } from "vitest";
import {
  crashSeed,
  createDedupNamespace,
  exited,
  killPoint,
  startSourceProcess,
  storedCount,
  storedIds,
} from "./crash.ts";
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

/**
 * Declares one test per guarantee: a source instance in a child process reads seeded records and SIGKILLs itself at
 * a Pulsar send whose receipt is pending (the kill point is a send number between 10% and 50% of the records, from
 * PC_CRASH_SEED when set); a second process with the same config finishes. Every record must then be in Pulsar
 * (ATLEAST_ONCE), or each exactly once (EFFECTIVELY_ONCE, broker deduplication on), and the origin fully acked.
 */
export function describeSourceKill(name: string, options: SourceKillOptions): void {
  const total = options.total ?? 5000;
  const seed = crashSeed();
  const { serviceUrl, adminUrl } = options.pulsar;
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

  describe(`${name}: source killed mid-stream (SIGKILL, receipt pending)`, () => {
    for (const guarantee of options.guarantees) {
      it(`${guarantee}: every record reaches Pulsar${guarantee === "EFFECTIVELY_ONCE" ? " exactly once" : ""}`, {
        timeout: 240_000,
      }, async () => {
        const killAtSend = killPoint(seed, total);
        process.stdout.write(`${name} ${guarantee}: kill at send ${killAtSend} (PC_CRASH_SEED=${seed})\n`);
        let namespace = "public/default";
        if (guarantee === "EFFECTIVELY_ONCE") {
          namespace = await createDedupNamespace(adminUrl, `${name}-kill-${run}`);
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
        const first = startSourceProcess({ ...settings, killAtSend });
        const limit = setTimeout(() => first.kill("SIGTERM"), 120_000);
        const firstExit = await exited(first);
        clearTimeout(limit);
        expect(firstExit, "the first process dies by SIGKILL at its kill point").toEqual({
          code: null,
          signal: "SIGKILL",
        });
        const atKill = await storedCount(adminUrl, topic);
        expect(atKill, "the kill lands before the end of the stream").toBeLessThan(total);

        const second = startSourceProcess(settings);
        try {
          await vi.waitFor(
            async () => {
              expect(
                await storedCount(adminUrl, topic),
                "records stored by the restarted source",
              ).toBeGreaterThanOrEqual(total);
              expect(await options.drained(configs), "the origin drained").toBe(true);
            },
            { timeout: 150_000, interval: 250 },
          );
        } finally {
          second.kill("SIGTERM");
          await exited(second);
        }
        expect(await options.drained(configs), "every record acknowledged at the origin").toBe(true);
        const { seen } = await storedIds({ serviceUrl, adminUrl }, topic);
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
