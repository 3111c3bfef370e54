// Test helpers for the Kafka connectors: the project's Kafka server, unique names, read loops, and a private broker
// that a test may kill and start again (the shared one must never be restarted).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SourceInstance, SourceRecord } from "@pulsar-connect/core";
import kafkajs from "kafkajs";
import { afterAll, beforeAll, inject } from "vitest";

const { Kafka, Partitioners, logLevel } = kafkajs;

/** Brokers of the Kafka server that tooling/services started for this project. */
export function kafkaBrokers(): string[] {
  const services = inject("services" as never) as { kafka?: { brokers: string[] } };
  return services.kafka?.brokers ?? ["127.0.0.1:9092"];
}

/** A kafkajs client for preparing and checking topics. */
export function testKafka(clientId: string): kafkajs.Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId, logLevel: logLevel.NOTHING });
}

export const defaultPartitioner: kafkajs.ICustomPartitioner = Partitioners.DefaultPartitioner;

/** A topic and group name nobody else uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

/** Reads until `count` records arrived or `timeoutMs` passed. */
export async function readAtLeast(
  source: SourceInstance,
  count: number,
  timeoutMs = 30_000,
): Promise<SourceRecord<Uint8Array>[]> {
  const records: SourceRecord<Uint8Array>[] = [];
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  while (records.length < count && Date.now() < deadline) {
    const batch = (await source.read({ maxRecords: count - records.length, signal })) ?? [];
    records.push(...(batch as SourceRecord<Uint8Array>[]));
  }
  return records;
}

/** Reads for `ms` and returns whatever arrived (to prove that nothing more comes). */
export async function readFor(source: SourceInstance, ms: number): Promise<SourceRecord<Uint8Array>[]> {
  const records: SourceRecord<Uint8Array>[] = [];
  const deadline = Date.now() + ms;
  const signal = new AbortController().signal;
  while (Date.now() < deadline) {
    const batch = (await source.read({ maxRecords: 1000, signal })) ?? [];
    records.push(...(batch as SourceRecord<Uint8Array>[]));
  }
  return records;
}

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Polls `check` every 200 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A private Kafka broker of one test file. */
export interface PrivateKafkaBroker {
  /** The broker's port on 127.0.0.1 (known once the beforeAll hook ran). */
  port(): number;
  /** SIGKILLs the broker, runs `duringOutage`, and after `downMs` starts the same java command again. */
  restart(downMs: number, duringOutage: () => Promise<void>): Promise<void>;
}

const repoRoot = join(import.meta.dirname, "../../..");

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

/**
 * Starts a private Kafka 4.1 through tooling/services (own state directory under a temp dir named `runDirPrefix...`,
 * own ports) in a beforeAll hook, and stops it in afterAll. Call it at the top level of a test file.
 */
export function privateKafkaBroker(runDirPrefix: string): PrivateKafkaBroker {
  const runDir = mkdtempSync(join(tmpdir(), runDirPrefix));
  let brokerPort = 0;
  let brokerPid = 0;
  let restarted: ChildProcess | undefined;
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

  return {
    port: () => brokerPort,
    async restart(downMs, duringOutage) {
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
    },
  };
}
