// The source survives a Kafka restart (upstream's did not, apache/pulsar#8343). The shared broker must not be
// restarted, so this test starts a private Kafka 4.1 through tooling/services (own state directory and ports),
// SIGKILLs it under a running source and starts the same broker process again on the same data.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import kafkajs from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { uniqueName } from "./helpers.ts";

const repoRoot = join(import.meta.dirname, "../../..");
const runDir = mkdtempSync(join(tmpdir(), "pc-kafka-restart-"));
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

describe("Kafka source across a Kafka restart (private broker)", () => {
  it("keeps reading after the broker was killed and started again, without losing or re-reading acked records", async () => {
    const brokers = [`127.0.0.1:${brokerPort}`];
    const kafka = new kafkajs.Kafka({ brokers, clientId: "restart-test", logLevel: kafkajs.logLevel.NOTHING });
    const topic = uniqueName("restart");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const produce = async (from: number, count: number) => {
      const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: count }, (_, i) => ({ value: `v${from + i}` })),
      });
      await producer.disconnect();
    };
    await produce(0, 200);

    const groupId = uniqueName("restart-g");
    const config = loadConfig(definition.config, {
      bootstrapServers: brokers.join(","),
      groupId,
      topic,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      idleReadTimeoutMs: 300,
      offsetCommitIntervalMs: 200,
    });
    const handle = createSourceContext();
    const source = (await definition.open(config, handle.context)) as SourceInstance;
    const signal = new AbortController().signal;
    const sequences: bigint[] = [];
    const readAndAck = async (until: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (sequences.length < until && Date.now() < deadline) {
        const batch = ((await source.read({ maxRecords: 500, signal })) ?? []) as SourceRecord[];
        for (const record of batch) {
          sequences.push(record.sequence as bigint);
          await record.ack?.();
        }
      }
    };
    try {
      await readAndAck(200, 30_000);
      expect(sequences).toHaveLength(200);
      await new Promise((resolve) => setTimeout(resolve, 600));

      let emptyReadsDuringOutage = 0;
      await restartBroker(5000, async () => {
        // While Kafka is down, read() keeps answering (empty batches), it does not throw.
        const until = Date.now() + 3000;
        while (Date.now() < until) {
          const batch = await source.read({ maxRecords: 10, signal });
          expect(batch).toEqual([]);
          emptyReadsDuringOutage++;
        }
      });
      expect(emptyReadsDuringOutage).toBeGreaterThan(0);

      await waitFor(
        async () => {
          try {
            await produce(200, 200);
            return true;
          } catch {
            return false;
          }
        },
        120_000,
        "the restarted broker to take writes",
      );
      await readAndAck(400, 120_000);
      expect(sequences).toEqual(Array.from({ length: 400 }, (_, i) => BigInt(i)));
      // The consumer really went through the outage: it rejoined the group after the restart.
      const joins = handle.logger.lines.filter((line) => line.message === "Kafka partitions assigned");
      expect(joins.length).toBeGreaterThanOrEqual(2);

      const check = kafka.admin();
      await check.connect();
      try {
        await waitFor(
          async () => (await check.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset === "400",
          30_000,
          "offset 400 to be committed",
        );
      } finally {
        await check.disconnect();
      }
    } finally {
      await source.close();
    }
  }, 300_000);
});
