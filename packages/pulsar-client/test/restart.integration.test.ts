// Broker killed (SIGKILL) and restarted in the middle of a send stream, with deduplication on.
// The test starts its OWN standalone broker (separate ports and data directory) through tooling/services, so the
// shared broker is never touched. tooling/services always starts from a fresh data directory, so the restart
// re-executes the killed JVM's own command line on the same data directory.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulsarAdmin, PulsarClient } from "../src/index.ts";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../../../tooling/services/src/cli.ts", import.meta.url));
const runDir = mkdtempSync(join(tmpdir(), "pulsar-client-restart-"));
const BROKER_PORT = 16650 + Math.floor(Math.random() * 200);
const env = {
  ...process.env,
  PC_SERVICES_RUN: runDir,
  PULSAR_BROKER_PORT: String(BROKER_PORT),
  PULSAR_WEB_PORT: String(BROKER_PORT + 1000),
  PULSAR_BOOKIE_PORT: String(BROKER_PORT + 2000),
};
const services = (command: "up" | "down") => run(process.execPath, [CLI, command, "pulsar"], { env, timeout: 240_000 });

let brokerPid: number | undefined;

/** SIGKILLs the broker and starts the same JVM command again on the same data; resolves when it serves again. */
async function killAndRestartBroker(admin: PulsarAdmin): Promise<void> {
  const pid =
    brokerPid ?? (JSON.parse(readFileSync(join(runDir, "pulsar", "state.json"), "utf8")) as { pid: number }).pid;
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .filter((a) => a !== "");
  const environ = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  process.kill(pid, "SIGKILL");
  await waitUntil(() => !alive(pid), 20_000);
  const log = openSync(join(runDir, "restarted.log"), "a");
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: environ, detached: true, stdio: ["ignore", log, log] });
  child.unref();
  brokerPid = child.pid;
  await waitUntil(async () => {
    try {
      return (await admin.getNamespaces("public")).includes("public/restart");
    } catch {
      return false;
    }
  }, 180_000);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the restarted broker");
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  await services("up");
}, 300_000);

afterAll(async () => {
  if (brokerPid !== undefined && alive(brokerPid)) {
    process.kill(brokerPid, "SIGTERM");
    await waitUntil(() => !alive(brokerPid!), 30_000).catch(() => process.kill(brokerPid!, "SIGKILL"));
  }
  await services("down").catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
}, 120_000);

describe("broker restart", () => {
  it("killed and restarted during a send stream with deduplication: every message exactly once", async () => {
    const admin = new PulsarAdmin({ serviceUrl: `http://127.0.0.1:${BROKER_PORT + 1000}` });
    await admin.createNamespace("public/restart");
    await admin.setDeduplication("public/restart", true);
    const topic = "persistent://public/restart/stream";
    const client = new PulsarClient({ serviceUrl: `pulsar://127.0.0.1:${BROKER_PORT}`, operationTimeoutMs: 60_000 });
    const producer = await client.createProducer({
      topic,
      producerName: "restart-producer",
      sendTimeoutMs: 0,
      batchingMaxMessages: 20,
      batchingMaxPublishDelayMs: 2,
      maxPendingMessages: 300,
    });
    const total = 2000;
    let restart: Promise<void> | undefined;
    const receipts: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      receipts.push(producer.send({ value: Buffer.from(`r-${i}`) }));
      if (i === 800) restart = killAndRestartBroker(admin);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await restart;
    await Promise.all(receipts);
    expect(producer.lastSequenceId).toBe(BigInt(total - 1));
    await producer.close();

    const consumer = await client.subscribe({ topic, subscription: "check", subscriptionInitialPosition: "Earliest" });
    const got: string[] = [];
    for (;;) {
      try {
        got.push((await consumer.receive(got.length >= total ? 2000 : 30_000)).data.toString());
      } catch {
        break;
      }
    }
    expect(got.length).toBe(total);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => `r-${i}`));
    await client.close();
  }, 300_000);
});
