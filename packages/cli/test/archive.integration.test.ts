import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { Worker } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { npmPack, writeArchiveSink } from "../../worker/test/fixtures/archive-sink.ts";
import { fixtureHost } from "../../worker/test/fixtures/host.ts";
import { linesOf, testWorkerOptions, until } from "../../worker/test/helpers.ts";
import { runCli } from "../src/internal/program.ts";

// `--archive` with a package folder (packed and uploaded by the CLI), an http:// URL (fetched by the worker) and a
// tarball for localrun (installed on this machine): connector packages installed nowhere beforehand.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `ca${Date.now().toString(36)}`;
const BIN = join(import.meta.dirname, "..", "bin", "pulsar-connect.js");

let work: string;
let dataDir: string;
let host: string;
let worker: Worker;
let client: PulsarClient;
let server: Server;
let v1Dir: string;
let v2Tarball: string;
let baseUrl: string;
const logs: string[] = [];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  };
  const code = await runCli(["--admin-url", worker.url, ...args], io);
  return { code, stdout, stderr };
}

async function publish(topic: string, values: string[]): Promise<void> {
  const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
  for (const value of values) await producer.send({ value });
  await producer.close();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "pulsar-connect-cli-archive-"));
  dataDir = join(work, "data");
  host = fixtureHost();
  v1Dir = writeArchiveSink(join(work, "v1"), { version: "1.0.0", label: "v1" });
  v2Tarball = npmPack(writeArchiveSink(join(work, "v2"), { version: "2.0.0", label: "v2" }), join(work, "packed"));
  server = createServer((request, response) => {
    if (request.url === "/v2.tgz") response.writeHead(200).end(readFileSync(v2Tarball));
    else response.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new PulsarClient({ serviceUrl });
  worker = await Worker.start(testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }));
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await client?.close();
  server?.close();
  for (const dir of [work, host]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("--archive", { timeout: 120_000 }, () => {
  it("creates a sink from a package folder and updates it to a tarball at an http:// URL", async () => {
    const name = `${run}-dir`;
    const topic = `${run}-dir-in`;
    const out = join(work, "dir.txt");
    const created = await cli([
      "sinks",
      "create",
      "--name",
      name,
      "--archive",
      v1Dir,
      "--inputs",
      topic,
      "--sink-config",
      JSON.stringify({ path: out }),
    ]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("Created successfully\n");
    expect(JSON.parse((await cli(["sinks", "get", "--name", name])).stdout).archive).toBe(
      "upload://fixture-archive-sink@1.0.0",
    );
    await until(
      async () =>
        JSON.parse((await cli(["--output", "json", "sinks", "status", "--name", name])).stdout).numRunning === 1,
    );
    await publish(topic, ["a"]);
    await until(() => linesOf(out).length === 1, 30_000, "a line from the uploaded folder");
    expect(linesOf(out)).toEqual(["v1:a"]);

    const updated = await cli(["sinks", "update", "--name", name, "--archive", `${baseUrl}/v2.tgz`]);
    expect(updated.stdout).toBe("Updated successfully\n");
    expect(JSON.parse((await cli(["sinks", "get", "--name", name])).stdout).archive).toBe(`${baseUrl}/v2.tgz`);
    await publish(topic, ["b"]);
    await until(() => linesOf(out).length === 2, 30_000, "a line from the fetched tarball");
    expect(linesOf(out)[1]).toBe("v2:b");

    const missing = await cli(["sinks", "update", "--name", name, "--archive", `${baseUrl}/gone.tgz`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("HTTP 404");
    expect((await cli(["sinks", "delete", "--name", name])).code).toBe(0);
  });

  it("localrun installs a tarball on this machine and runs it", async () => {
    const topic = `${run}-local-in`;
    const out = join(work, "local.txt");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "sinks",
        "localrun",
        "--archive",
        v2Tarball,
        "--inputs",
        topic,
        "--subs-position",
        "Earliest",
        "--sink-config",
        JSON.stringify({ path: out }),
        "--broker-service-url",
        serviceUrl,
      ],
      { env: { ...process.env, XDG_CACHE_HOME: join(work, "cache") } },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    await publish(topic, ["x", "y"]);
    await until(() => linesOf(out).length === 2, 60_000, `2 lines written by localrun (stderr: ${stderr})`);
    expect(linesOf(out)).toEqual(["v2:x", "v2:y"]);
    expect(stderr).toContain("of sink 'archive-file'");
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
