// Memory cost of one more connector instance in each runtime: resident memory (RSS) of a worker and all its
// instance processes, with 1 instance and with 1 + N instances; the cost per instance is the difference over N.
// Each runtime runs in a fresh worker process, started by this script (plain JavaScript, SERVE_SCRIPT), from the built
// packages as they ship (`pnpm build` first); BENCH_FROM=source runs them from TypeScript sources instead.
// BENCH_KIND=sink measures jdbc-postgres sink instances (reading an empty topic) instead of data-generator sources;
// BENCH_RUNTIMES=in-process limits the runtimes. The worker alone, before any instance, is measured too (idle);
// BENCH_COMPARE_DIR=<another checkout>/tooling/bench (built) measures that checkout's idle worker in the same run.
// Usage: pnpm --filter @pulsar-connect/bench instance-memory   (needs `pnpm services up pulsar`; sinks PostgreSQL)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { revision } from "./common.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const EXTRA = Number(process.env.BENCH_INSTANCES ?? 8);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 5_000);
const ALL_RUNTIMES = ["in-process", "process"] as const;
type Runtime = (typeof ALL_RUNTIMES)[number];
const RUNTIMES: readonly Runtime[] = ALL_RUNTIMES.filter((runtime) =>
  (process.env.BENCH_RUNTIMES ?? ALL_RUNTIMES.join(",")).split(",").includes(runtime),
);
const FROM_SOURCE = process.env.BENCH_FROM === "source";
const KIND: "source" | "sink" = process.env.BENCH_KIND === "sink" ? "sink" : "source";
const PG_TABLE = `bench_memory_${Date.now().toString(36)}`;

// The worker process runs this plain JavaScript (no TypeScript to strip, nothing of this script loaded) so that it
// holds what a worker started from the built packages holds; argv: runtime, preferSource ("1"), Pulsar URLs.
const SERVE_SCRIPT = `
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "@pulsar-connect/worker";
const [runtime, preferSource, serviceUrl, adminUrl, hostDir] = process.argv.slice(1);
const dataDir = mkdtempSync(join(tmpdir(), "pc-bench-memory-"));
const worker = await Worker.start({
  port: 0,
  dataDir,
  hostDirs: [hostDir],
  preferSource: preferSource === "1",
  pulsarServiceUrl: serviceUrl,
  pulsarAdminUrl: adminUrl,
  runtime,
  logDestination: { write: () => true },
});
process.stdout.write("listening " + worker.url + "\\n");
process.on("SIGTERM", () => {
  void worker.close().then(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});
`;

await main();

interface Memory {
  /** Resident set: counts the pages processes share (the Node binary) once per process. */
  rss: number;
  /** Proportional set: shared pages divided among the processes sharing them; what one more process really costs. */
  pss: number;
}

/** RSS and PSS in kB of a process and all its descendants, from /proc. */
function treeMemoryKb(pid: number): Memory {
  const total = { rss: 0, pss: 0 };
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    total.rss = Number(/^Rss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    total.pss = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    for (const child of children) {
      const inner = treeMemoryKb(Number(child));
      total.rss += inner.rss;
      total.pss += inner.pss;
    }
  } catch {
    // The process ended while being read.
  }
  return total;
}

async function settledMemoryMb(pid: number): Promise<Memory> {
  await new Promise((done) => setTimeout(done, SETTLE_MS));
  const samples: Memory[] = [];
  for (let i = 0; i < 5; i += 1) {
    samples.push(treeMemoryKb(pid));
    await new Promise((done) => setTimeout(done, 400));
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[2] as number;
  const mb = (kb: number) => Math.round(kb / 102.4) / 10;
  return { rss: mb(median(samples.map((s) => s.rss))), pss: mb(median(samples.map((s) => s.pss))) };
}

async function post(url: string, name: string, runtime: Runtime): Promise<void> {
  const body =
    KIND === "source"
      ? {
          archive: "builtin://data-generator",
          topicName: `bench-memory-${runtime}`,
          configs: { recordType: "orders", ratePerSecond: 10 },
        }
      : {
          archive: "builtin://jdbc-postgres",
          inputs: [`bench-memory-sink-${runtime}-${name}`],
          configs: { jdbcUrl: "jdbc:postgresql://127.0.0.1:5432/test", userName: "postgres", tableName: PG_TABLE },
        };
  const response = await fetch(`${url}/admin/v3/${KIND}s/public/default/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status >= 300) throw new Error(`create ${name}: ${response.status} ${await response.text()}`);
}

async function running(url: string, names: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const states = await Promise.all(
      names.map(async (name) => {
        const response = await fetch(`${url}/admin/v3/${KIND}s/public/default/${name}/status`);
        return ((await response.json()) as { numRunning?: number }).numRunning === 1;
      }),
    );
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error("instances did not all start within 120 s");
    await new Promise((done) => setTimeout(done, 200));
  }
}

interface Figures {
  idle: Memory;
  one: Memory;
  many: Memory;
  perInstance: Memory;
}

/** Starts a worker process running SERVE_SCRIPT from the bench folder `benchDir` (this checkout's unless given). */
function startWorker(runtime: Runtime, benchDir: string): { child: ChildProcess; url: Promise<string> } {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(FROM_SOURCE ? ["--conditions=@pulsar-connect/source"] : []),
      "--input-type=module",
      "--eval",
      SERVE_SCRIPT,
      runtime,
      FROM_SOURCE ? "1" : "0",
      SERVICE_URL,
      ADMIN_URL,
      benchDir,
    ],
    { stdio: ["ignore", "pipe", "inherit"], cwd: benchDir },
  );
  const url = new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening (\S+)/.exec(output);
      if (found) resolve(found[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return { child, url };
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await exited;
}

/** The idle worker of another checkout (BENCH_COMPARE_DIR, its tooling/bench folder, built), for a before/after. */
async function measureIdleOf(benchDir: string): Promise<Memory> {
  const { child, url } = startWorker("in-process", benchDir);
  try {
    await url;
    return await settledMemoryMb(child.pid as number);
  } finally {
    await stopWorker(child);
  }
}

async function measure(runtime: Runtime): Promise<Figures> {
  const { child, url: listening } = startWorker(runtime, join(import.meta.dirname, ".."));
  try {
    const url = await listening;
    const run = `${runtime.replace("-", "")}${Date.now().toString(36)}`;
    const names = Array.from({ length: EXTRA + 1 }, (_, i) => `${run}-${i}`);
    const idle = await settledMemoryMb(child.pid as number);
    await post(url, names[0] as string, runtime);
    await running(url, names.slice(0, 1));
    const one = await settledMemoryMb(child.pid as number);
    for (const name of names.slice(1)) await post(url, name, runtime);
    await running(url, names);
    const many = await settledMemoryMb(child.pid as number);
    for (const name of names) await fetch(`${url}/admin/v3/${KIND}s/public/default/${name}`, { method: "DELETE" });
    const per = (key: keyof Memory) => Math.round(((many[key] - one[key]) / EXTRA) * 10) / 10;
    return { idle, one, many, perInstance: { rss: per("rss"), pss: per("pss") } };
  } finally {
    await stopWorker(child);
  }
}

function idleRatioToBare(figures: Record<string, Figures>, bare: Memory): number {
  const idle = Object.values(figures)[0]?.idle.rss ?? Number.NaN;
  return Math.round((idle / bare.rss) * 100) / 100;
}

async function main(): Promise<void> {
  const pgClient = KIND === "sink" ? new pg.Client({ host: "127.0.0.1", user: "postgres", database: "test" }) : null;
  await pgClient?.connect();
  await pgClient?.query(`CREATE TABLE ${PG_TABLE} (orderId BIGINT, status TEXT)`);
  const loadBefore = loadavg()[0] ?? 0;
  // The floor, measured in the same run: a Node process that does nothing but keep its event loop alive.
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const bareNode = await settledMemoryMb(bare.pid as number);
  bare.kill();
  console.log("bare node", bareNode);
  const compareDir = process.env.BENCH_COMPARE_DIR;
  const compared = compareDir ? { revision: revision(compareDir), idle: await measureIdleOf(compareDir) } : undefined;
  if (compared) console.log("compared worker idle", compared);
  const figures: Record<string, Figures> = {};
  for (const runtime of RUNTIMES) {
    figures[runtime] = await measure(runtime);
    console.log(runtime, figures[runtime]);
  }
  await pgClient?.query(`DROP TABLE ${PG_TABLE}`);
  await pgClient?.end();
  const ratioOf = (key: keyof Memory) =>
    Math.round(
      ((figures.process?.perInstance[key] ?? Number.NaN) / (figures["in-process"]?.perInstance[key] ?? Number.NaN)) *
        10,
    ) / 10;
  const ratio = { rss: ratioOf("rss"), pss: ratioOf("pss") };
  const summary = {
    date: new Date().toISOString(),
    revision: revision(),
    node: process.version,
    cores: cpus().length,
    extraInstances: EXTRA,
    connector:
      KIND === "source" ? "data-generator (orders, 10 records/s)" : "jdbc-postgres (an empty input topic each)",
    loadedFrom: FROM_SOURCE ? "TypeScript sources" : "built packages (dist)",
    loadAverage: { before: Math.round(loadBefore * 10) / 10, after: Math.round((loadavg()[0] ?? 0) * 10) / 10 },
    bareNode,
    compared,
    figures,
    ratioProcessToInProcess: ratio,
  };
  const dir = join(import.meta.dirname, "../results");
  mkdirSync(dir, { recursive: true });
  const base = `instance-memory${KIND === "sink" ? "-sinks" : ""}${FROM_SOURCE ? "-from-source" : ""}`;
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  const rows = RUNTIMES.map((runtime) => {
    const entry = figures[runtime];
    return `| ${runtime} | ${entry?.idle.rss} / ${entry?.idle.pss} | ${entry?.one.rss} / ${entry?.one.pss} | ${entry?.many.rss} / ${entry?.many.pss} | ${entry?.perInstance.rss} / ${entry?.perInstance.pss} |`;
  });
  writeFileSync(
    join(dir, `${base}.md`),
    [
      "# Memory per connector instance: in-process vs process runtime",
      "",
      `${summary.date}, ${summary.cores} cores (shared with other people's builds and tests), Node ${summary.node}, revision ${summary.revision}, ${summary.loadedFrom};`,
      `${summary.connector} per instance; memory of the worker and all its instance processes, median of 5 samples`,
      `after ${SETTLE_MS / 1000} s. RSS counts pages shared between processes (the Node binary) in every process; PSS`,
      "divides them among the processes that share them, so PSS is what one more instance process costs the host.",
      "The worker runs from plain JavaScript; before revision bcad40e it ran this TypeScript file (type stripping,",
      "about 20 MB, and pg loaded in the worker), so idle figures from before then are not comparable.",
      "",
      `| runtime | worker idle, RSS / PSS (MB) | 1 instance, RSS / PSS (MB) | ${EXTRA + 1} instances, RSS / PSS (MB) | per extra instance, RSS / PSS (MB) |`,
      "| --- | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      `Floor in the same run: a bare \`node -e 'setInterval(() => {}, 1000)'\` holds ${bareNode.rss} / ${bareNode.pss} MB (RSS / PSS);`,
      `the worker idle is ${idleRatioToBare(figures, bareNode)} times that (RSS). Load average (1 min) ${summary.loadAverage.before} before, ${summary.loadAverage.after} after.`,
      ...(compared
        ? [
            `In the same run, the idle worker of revision ${compared.revision} (another checkout, built, same settings) held`,
            `${compared.idle.rss} / ${compared.idle.pss} MB (RSS / PSS).`,
          ]
        : []),
      "",
      RUNTIMES.length === 2
        ? `Ratio process / in-process per extra instance: ${ratio.rss} (RSS), ${ratio.pss} (PSS).`
        : "Worker idle: the worker process before any instance is created.",
      "",
    ].join("\n"),
  );
}
