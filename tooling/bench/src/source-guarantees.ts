// Source throughput under EFFECTIVELY_ONCE vs ATLEAST_ONCE on the same input: the runtime moves N generated records
// into Pulsar through one source instance; deduplication is on for the namespace in both runs.
// Usage: pnpm --filter @pulsar-connect/bench source-guarantees   (needs `pnpm services up pulsar`)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineSource, type SourceRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { peakRssMb } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const COUNT = Number(process.env.BENCH_COUNT ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const run = Date.now().toString(36);

const generator = defineSource({
  name: "bench-generator",
  description: "records {id, name, amount} with partitionId and sequence",
  config: z.object({ count: z.number().int().positive() }),
  async open(config) {
    let next = 0;
    return {
      async read({ maxRecords }) {
        if (next >= config.count) return null;
        const end = Math.min(config.count, next + Math.min(maxRecords, 2000));
        const records: SourceRecord[] = [];
        for (; next < end; next += 1) {
          records.push({
            value: { id: next, name: `customer-${next % 1000}`, amount: (next % 997) / 10 },
            partitionId: "bench-0",
            sequence: BigInt(next),
          });
        }
        return records;
      },
      async close() {},
    };
  },
});

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${ADMIN_URL}${path}`, init);
  if (response.status >= 300 && response.status !== 409) throw new Error(`${method} ${path}: ${response.status}`);
}

async function once(guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE", round: number): Promise<number> {
  const client = new PulsarClient({ serviceUrl: SERVICE_URL });
  const resolved = resolveSourceConfig({
    name: `bench-${guarantee}-${round}`,
    archive: "builtin://bench-generator",
    topicName: `persistent://public/bench-${run}/source-${guarantee.toLowerCase()}-${round}`,
    processingGuarantees: guarantee,
    configs: { count: COUNT },
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition: generator,
    instanceId: 0,
    pulsar: { client, adminUrl: ADMIN_URL },
  });
  const start = performance.now();
  await instance.start();
  await instance.done;
  const seconds = (performance.now() - start) / 1000;
  if (instance.stats.written !== COUNT) throw new Error(`${guarantee}: wrote ${instance.stats.written} of ${COUNT}`);
  await client.close();
  return COUNT / seconds;
}

await admin("PUT", `/admin/v2/namespaces/public/bench-${run}`);
await admin("POST", `/admin/v2/namespaces/public/bench-${run}/deduplication`, true);
const results: Record<string, number[]> = { ATLEAST_ONCE: [], EFFECTIVELY_ONCE: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
    const rate = await once(guarantee, round);
    results[guarantee]?.push(rate);
    process.stderr.write(`${guarantee} round ${round}: ${Math.round(rate)} records/s\n`);
  }
}
const best = (values: number[]) => Math.max(...values);
const atLeast = best(results.ATLEAST_ONCE ?? []);
const effectively = best(results.EFFECTIVELY_ONCE ?? []);
const summary = {
  date: new Date().toISOString(),
  machine: `${execFileSync("nproc").toString().trim()} cores, Node ${process.version}`,
  records: COUNT,
  rounds: ROUNDS,
  recordsPerSecond: { ATLEAST_ONCE: results.ATLEAST_ONCE, EFFECTIVELY_ONCE: results.EFFECTIVELY_ONCE },
  bestAtLeastOnce: Math.round(atLeast),
  bestEffectivelyOnce: Math.round(effectively),
  ratio: Number((effectively / atLeast).toFixed(3)),
  peakRssMb: peakRssMb(),
};
const dir = join(import.meta.dirname, "../results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "source-guarantees.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(
  join(dir, "source-guarantees.md"),
  `# Source throughput: EFFECTIVELY_ONCE vs ATLEAST_ONCE\n\n${summary.date}, ${summary.machine}, ${COUNT} JSON records per run, best of ${ROUNDS}.\n\n` +
    `| guarantee | records/s |\n| --- | ---: |\n| ATLEAST_ONCE | ${summary.bestAtLeastOnce} |\n| EFFECTIVELY_ONCE | ${summary.bestEffectivelyOnce} |\n\n` +
    `Ratio EFFECTIVELY_ONCE / ATLEAST_ONCE: ${summary.ratio}. Peak RSS of the benchmark process: ${summary.peakRssMb} MB.\n`,
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
