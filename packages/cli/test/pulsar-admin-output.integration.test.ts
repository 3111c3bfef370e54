// When stdout is not a terminal, the read verbs print what Apache Pulsar's Java pulsar-admin prints, byte for byte,
// so scripts written for it work unchanged. Both run here against the same worker and their outputs are compared.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fixtureHost } from "../../worker/test/fixtures/host.ts";
import { runCommand, testWorkerOptions, until } from "../../worker/test/helpers.ts";
import { javaAvailable, pulsarAdminClasspath } from "../../worker/test/pulsar-admin/classpath.ts";
import { runCli } from "../src/internal/program.ts";

const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `po${Date.now().toString(36)}`;

let classpath: string;
let worker: Worker;
let dataDir: string;
let host: string;
let clientConf: string;
const logs: string[] = [];

interface Printed {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs every command in one JVM (see pulsar-admin/Batch.java): a JVM start costs seconds, and the comparison needs a
 * dozen commands. Resolves with each command's stdout and exit code, in order.
 */
async function pulsarAdminBatch(commands: string[][]): Promise<Printed[]> {
  const file = join(dataDir, "commands.tsv");
  writeFileSync(file, commands.map((args) => [clientConf, "--admin-url", worker.url, ...args].join("\t")).join("\n"));
  const { stdout, stderr } = await runCommand("java", [
    "-cp",
    classpath,
    join(import.meta.dirname, "pulsar-admin", "Batch.java"),
    file,
  ]);
  const results: Printed[] = [];
  const marker = new RegExp(`${String.fromCharCode(1)}END (-?\\d+)\\n`, "g");
  let from = 0;
  for (let match = marker.exec(stdout); match; match = marker.exec(stdout)) {
    results.push({ code: Number(match[1]), stdout: stdout.slice(from, match.index), stderr });
    from = match.index + match[0].length;
  }
  return results;
}

/** Our CLI with stdout that is not a terminal (a pipe, as in a script). */
async function ours(args: string[], tty = false): Promise<Printed> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["--admin-url", worker.url, ...args], {
    stdout: { write: (text: string) => (stdout += text), isTTY: tty },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  });
  return { code, stdout, stderr };
}

const runs = javaAvailable() || process.env.CI === "true";

describe.runIf(runs)("read verbs print what pulsar-admin prints", { timeout: 300_000 }, () => {
  const sink = `${run}-sink`;
  const source = `${run}-source`;

  beforeAll(async () => {
    if (!javaAvailable()) throw new Error("the pulsar-admin comparison needs `java` and `mvn` on PATH");
    classpath = pulsarAdminClasspath();
    dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-po-"));
    host = fixtureHost();
    clientConf = join(dataDir, "client.conf");
    writeFileSync(clientConf, "");
    worker = await Worker.start(testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }));
    const created = await ours([
      "sinks",
      "create",
      "--name",
      sink,
      "-t",
      "test-file",
      "--inputs",
      `persistent://public/default/${run}-in,persistent://public/default/${run}-in2`,
      "--parallelism",
      "2",
      "--cpu",
      "0.5",
      "--ram",
      "268435456",
      "--sink-config",
      JSON.stringify({ path: join(dataDir, "out.txt"), failOn: "a <b> & 'c' = d\u00e9" }),
      "--custom-schema-inputs",
      JSON.stringify({ [`persistent://public/default/${run}-in`]: "STRING" }),
      "--retain-ordering",
      "--timeout-ms",
      "30000",
    ]);
    expect(created.code, created.stderr).toBe(0);
    const created2 = await ours([
      "sources",
      "create",
      "--name",
      source,
      "-t",
      "test-counter",
      "--destination-topic-name",
      `persistent://public/default/${run}-out`,
      "--source-config",
      JSON.stringify({ count: 5, prefix: "v=" }),
    ]);
    expect(created2.code, created2.stderr).toBe(0);
    await until(async () => {
      const status = JSON.parse((await ours(["--output", "json", "sinks", "status", "--name", sink])).stdout);
      return status.numRunning === 2;
    });
  }, 300_000);

  afterAll(async () => {
    await worker?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (host) rmSync(host, { recursive: true, force: true });
  });

  const commands = [
    ["sinks", "get", "--name", sink],
    ["sinks", "list"],
    ["sinks", "list", "--tenant", "public", "--namespace", "nothing-here"],
    ["sinks", "available-sinks"],
    ["sinks", "status", "--name", sink],
    ["sinks", "status", "--name", sink, "--instance-id", "1"],
    ["sources", "get", "--name", source],
    ["sources", "list"],
    ["sources", "available-sources"],
    ["sources", "status", "--name", source],
    ["functions-worker", "get-cluster"],
    ["functions-worker", "get-cluster-leader"],
    ["functions-worker", "get-function-assignments"],
    ["functions-worker", "function-stats"],
  ];

  it("get, list, available-*, status (all instances and one), functions-worker: the same bytes as pulsar-admin", async () => {
    // Counters must not move between the two runs: the sink is stopped, the source has emitted all it has.
    expect((await ours(["sinks", "stop", "--name", sink])).code).toBe(0);
    await until(async () => {
      const status = JSON.parse((await ours(["--output", "json", "sources", "status", "--name", source])).stdout);
      return status.instances[0]?.status.numWritten === 5;
    });
    const java = await pulsarAdminBatch(commands);
    expect(java.length, java[0]?.stderr).toBe(commands.length);
    for (const [index, args] of commands.entries()) {
      const node = await ours(args);
      expect(java[index]?.code, `${args.join(" ")}: ${java[index]?.stderr}`).toBe(0);
      expect(node.code, node.stderr).toBe(0);
      expect(node.stdout, args.join(" ")).toBe(java[index]?.stdout);
    }
  });

  it("a terminal still gets tables, and --output json the worker's JSON", async () => {
    const table = await ours(["sinks", "list"], true);
    expect(table.stdout).toMatch(/^NAME\n/);
    const json = await ours(["--output", "json", "sinks", "list"]);
    expect(JSON.parse(json.stdout)).toContain(sink);
  });
});
