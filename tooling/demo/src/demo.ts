// pnpm demo: brings up Pulsar, starts a pulsar-connect worker, creates a data-generator source feeding a topic and a
// jdbc-sqlite sink draining it into a SQLite table, shows live progress, and ends with a summary.
//   pnpm demo [--records N] [--rate R]      N = 0 runs until Ctrl-C (default 100000 records, as fast as possible)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { describeUp, stopServices, upServices } from "../../services/src/index.ts";

const root = join(import.meta.dirname, "../../..");
const cliBin = join(root, "packages/cli/bin/pulsar-connect.js");
const { values } = parseArgs({
  options: {
    records: { type: "string", default: "100000" },
    rate: { type: "string", default: "0" },
    port: { type: "string", default: process.env.PULSAR_CONNECT_DEMO_PORT ?? "6750" },
  },
});
const records = Number(values.records);
const rate = Number(values.rate);
const adminUrl = `http://127.0.0.1:${values.port}`;
const runDir = join(root, ".run/demo");
const dbPath = join(runDir, "people.db");
const topic = `persistent://public/default/demo-people-${Date.now().toString(36)}`;
const isTty = process.stdout.isTTY;

const say = (line: string) => process.stdout.write(`${line}\n`);
let worker: ChildProcess | undefined;
let startedPulsar = false;
let stopping = false;

function cli(args: string[], quiet = false): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!quiet) say(`  $ pulsar-connect ${args.map((a) => (/[\s{}"]/.test(a) ? `'${a}'` : a)).join(" ")}`);
    const child = spawn(process.execPath, [cliBin, ...args, "--admin-url", adminUrl], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    child.on("exit", (code) => {
      if (code === 0) {
        if (!quiet && out.trim()) say(`    ${out.trim().split("\n").join("\n    ")}`);
        resolve(out);
      } else reject(new Error(`pulsar-connect ${args[0]} ${args[1]} failed (exit ${code}): ${out.trim()}`));
    });
  });
}

async function waitForWorker(deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (worker?.exitCode !== null && worker?.exitCode !== undefined)
      throw new Error("the worker exited during start-up");
    try {
      const response = await fetch(`${adminUrl}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the worker did not answer on ${adminUrl} in time`);
}

async function status(kind: "sources" | "sinks", name: string): Promise<Record<string, number>> {
  const response = await fetch(`${adminUrl}/admin/v3/${kind}/public/default/${name}/status`);
  if (!response.ok) return {};
  const body = (await response.json()) as { instances?: Array<{ status: Record<string, number> }> };
  return body.instances?.[0]?.status ?? {};
}

function tableRows(): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM people").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function cleanup(): Promise<void> {
  const running = worker && worker.exitCode === null && worker.signalCode === null;
  if (worker && running) {
    const exited = new Promise((resolve) => worker?.once("exit", resolve));
    await cli(["sources", "delete", "--name", "demo-people"], true).catch(() => {});
    await cli(["sinks", "delete", "--name", "demo-people-sqlite"], true).catch(() => {});
    worker.kill("SIGTERM");
    await exited;
  }
  if (startedPulsar) await stopServices(["pulsar"]);
}

async function main(): Promise<void> {
  say("pulsar-connect demo: data-generator -> Pulsar -> jdbc-sqlite\n");
  say("1. Pulsar standalone (from Maven Central jars)");
  const [pulsar] = await upServices(["pulsar"], { onResult: (result) => say(`   ${describeUp(result)}`) });
  startedPulsar = pulsar?.action === "started";

  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const db = new Database(dbPath);
  db.exec(`CREATE TABLE people (id INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, email TEXT, age INTEGER,
           city TEXT, active INTEGER)`);
  db.close();

  say(`\n2. A worker on ${adminUrl}, with the connectors installed next to it`);
  worker = spawn(
    process.execPath,
    [
      cliBin,
      "worker",
      "--port",
      String(values.port),
      "--data-dir",
      join(runDir, "worker"),
      "--connectors-dir",
      import.meta.dirname + "/..",
    ],
    // Its own process group: Ctrl-C reaches the demo only, which then shuts the pipeline down in order.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  process.on("exit", () => worker?.kill("SIGKILL"));
  worker.stderr?.on("data", (chunk: Buffer) => {
    if (!stopping) process.stderr.write(chunk);
  });
  await waitForWorker(Date.now() + 60_000);
  await cli(["sinks", "available-sinks"], true).then((out) =>
    say(
      `   sinks available: ${out
        .split("\n")
        .filter((l) => /^[a-z]/.test(l))
        .join(", ")}`,
    ),
  );

  say("\n3. The pipeline");
  await cli([
    "sinks",
    "create",
    "--sink-type",
    "jdbc-sqlite",
    "--name",
    "demo-people-sqlite",
    "--inputs",
    topic,
    "--subs-position",
    "Earliest",
    "--processing-guarantees",
    "EFFECTIVELY_ONCE",
    "--sink-config",
    JSON.stringify({ jdbcUrl: `jdbc:sqlite:${dbPath}`, tableName: "people", insertMode: "UPSERT" }),
  ]);
  await cli([
    "sources",
    "create",
    "--source-type",
    "data-generator",
    "--name",
    "demo-people",
    "--destination-topic-name",
    topic,
    "--source-config",
    JSON.stringify({ recordType: "people", ratePerSecond: rate, maxRecords: records }),
  ]);

  say(`\n4. Moving ${records > 0 ? records : "records until Ctrl-C"}${rate > 0 ? ` at ${rate}/s` : ""}\n`);
  const started = Date.now();
  let previous = { generated: 0, written: 0, at: started };
  let rows = 0;
  for (;;) {
    if (stopping) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [source, sink] = await Promise.all([status("sources", "demo-people"), status("sinks", "demo-people-sqlite")]);
    rows = tableRows();
    const now = Date.now();
    const generated = source.numWritten ?? 0;
    const written = sink.numWrittenToSink ?? 0;
    const seconds = (now - previous.at) / 1000;
    const line =
      `   ${((now - started) / 1000).toFixed(0).padStart(4)} s | published ${String(generated).padStart(8)} ` +
      `(${Math.round((generated - previous.generated) / seconds)
        .toString()
        .padStart(6)}/s) | written ${String(written).padStart(8)} ` +
      `(${Math.round((written - previous.written) / seconds)
        .toString()
        .padStart(6)}/s) | rows ${rows}` +
      `${(sink.numSinkExceptions ?? 0) > 0 ? ` | sink errors ${sink.numSinkExceptions}` : ""}`;
    if (isTty) process.stdout.write(`\r${line}`);
    else say(line);
    previous = { generated, written, at: now };
    if (records > 0 && rows >= records) break;
  }
  if (isTty) say("");
  const seconds = (Date.now() - started) / 1000;
  say("\n5. Summary");
  say(`   rows in table people: ${rows}`);
  say(`   throughput: ${Math.round(rows / seconds)} rows/s over ${seconds.toFixed(1)} s, end to end`);
  say(
    `   database file: ${relative(process.cwd(), dbPath) || dbPath}  (sqlite3 ${relative(process.cwd(), dbPath)} 'select * from people limit 5')`,
  );
}

async function shutdown(code: number): Promise<never> {
  stopping = true;
  await cleanup().catch((error: unknown) => process.stderr.write(`cleanup: ${String(error)}\n`));
  process.exit(code);
}

process.on("SIGINT", () => {
  if (stopping) return;
  say("\n   Ctrl-C: stopping the pipeline");
  stopping = true;
});

try {
  await main();
  await shutdown(0);
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await shutdown(1);
}
