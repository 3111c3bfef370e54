// The sink survives a Kafka restart: writes during the outage fail with a retryable error, writes after it succeed
// without reopening the sink. The shared broker must not be restarted, so this test starts a private Kafka 4.1
// through tooling/services (own state directory and ports), SIGKILLs it and starts the same process again.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import kafkajs from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { uniqueName } from "./helpers.ts";

const repoRoot = join(import.meta.dirname, "../../..");
const runDir = mkdtempSync(join(tmpdir(), "pc-kafka-sink-restart-"));
let brokerPort = 0;
let brokerPid = 0;
let restarted: ChildProcess | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function services(args: string[], env: Record<string, string>): void {
  execFileSync(process.execPath, [join(repoRoot, "tooling/services/src/cli.ts"), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: "pipe",
    timeout: 180_000,
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let serviceEnv: Record<string, string> = {};

beforeAll(async () => {
  brokerPort = await freePort();
  const controllerPort = await freePort();
  serviceEnv = {
    PC_SERVICES_RUN: runDir,
    KAFKA_PORT: String(brokerPort),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
  };
  services(["up", "kafka"], serviceEnv);
  brokerPid = (JSON.parse(readFileSync(join(runDir, "kafka/state.json"), "utf8")) as { pid: number }).pid;
}, 240_000);

afterAll(async () => {
  if (restarted?.pid && alive(restarted.pid)) {
    restarted.kill("SIGKILL");
    await waitFor(() => !alive(restarted?.pid ?? 0), 30_000, "the restarted broker to stop").catch(() => undefined);
  }
  if (brokerPid && alive(brokerPid)) services(["down", "kafka"], serviceEnv);
  rmSync(runDir, { recursive: true, force: true });
});

/** SIGKILLs the private broker and starts the same java command again (same config, same data directory). */
async function restartBroker(downMs: number, duringOutage: () => Promise<void>): Promise<void> {
  const argv = readFileSync(`/proc/${brokerPid}/cmdline`, "utf8")
    .split("\0")
    .filter((part) => part !== "");
  const cwd = readlinkSync(`/proc/${brokerPid}/cwd`);
  process.kill(brokerPid, "SIGKILL");
  await waitFor(() => !alive(brokerPid), 30_000, "the broker to die");
  const outage = Date.now();
  await duringOutage();
  const left = downMs - (Date.now() - outage);
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  const [java, ...args] = argv;
  restarted = spawn(java as string, args, { cwd, stdio: "ignore" });
  brokerPid = restarted.pid ?? 0;
}

describe("Kafka sink across a Kafka restart (private broker)", () => {
  it("fails writes during the outage as retryable and writes again after the restart", async () => {
    const brokers = [`127.0.0.1:${brokerPort}`];
    const kafka = new kafkajs.Kafka({ brokers, clientId: "sink-restart-test", logLevel: kafkajs.logLevel.NOTHING });
    const topic = uniqueName("sink-restart");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const config = loadConfig(definition.config, {
      bootstrapServers: brokers.join(","),
      topic,
      producerConfigProperties: { retries: 1, "request.timeout.ms": 2000 },
    });
    const sink = await definition.open(config, createSinkContext().context);
    const batch = (from: number) => makeSinkRecords(Array.from({ length: 50 }, (_, i) => ({ value: `m${from + i}` })));
    try {
      expect(await sink.write(batch(0))).toBeUndefined();
      const outageErrors: unknown[] = [];
      await restartBroker(3000, async () => {
        outageErrors.push(await sink.write(batch(50)).catch((error: unknown) => error));
      });
      const chain: string[] = [];
      for (let e = outageErrors[0] as { name?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
        chain.push(String(e.name));
      }
      expect(outageErrors[0], chain.join(" <- ")).toBeInstanceOf(ConnectorError);
      expect(outageErrors[0], chain.join(" <- ")).toMatchObject({ code: "WRITE_FAILED", retryable: true });

      // What the runtime does with a retryable failure: write the same batch again until it succeeds.
      let written = false;
      const deadline = Date.now() + 120_000;
      while (!written && Date.now() < deadline) {
        written = await sink.write(batch(50)).then(
          (outcome) => outcome === undefined,
          () => false,
        );
        if (!written) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(written).toBe(true);
      expect(await sink.write(batch(100))).toBeUndefined();
    } finally {
      await sink.close();
    }

    const consumer = kafka.consumer({ groupId: uniqueName("sink-restart-check") });
    const values = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.add(message.value?.toString() ?? "") });
    await waitFor(() => values.size >= 150, 30_000, "150 distinct messages");
    await consumer.disconnect();
    expect([...values].sort()).toEqual(Array.from({ length: 150 }, (_, i) => `m${i}`).sort());
  }, 300_000);
});
