import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveJava17 } from "../../../services/src/internal/java.ts";
import { fetchJars, type JvmRun, javaArgs } from "../../../services/src/internal/jvm.ts";
import { waitUntil } from "../../../services/src/internal/probe.ts";
import { isAlive, spawnDetached, stopProcess, tailFile } from "../../../services/src/internal/proc.ts";
import { pulsarServer } from "../../../services/src/internal/pulsar.ts";

export interface BrokerPorts {
  broker: number;
  web: number;
  bookie: number;
}

/**
 * What makes a standalone keep what it acknowledged across `kill -9`: the bookie journal synced before an entry
 * is acknowledged, cursor positions persisted on every acknowledgement (not once a second), and deduplication
 * on for every topic (EFFECTIVELY_ONCE pipelines need it, and an update may switch any pipeline to it).
 */
const DURABLE_SETTINGS: Readonly<Record<string, string>> = {
  journalSyncData: "true",
  journalWriteData: "true",
  journalAdaptiveGroupWrites: "true",
  managedLedgerDefaultMarkDeleteRateLimit: "0",
  brokerDeduplicationEnabled: "true",
  // The worker's EFFECTIVELY_ONCE producers are named after the generator's partitions; keep their
  // deduplication state across the run's broker restarts.
  brokerDeduplicationProducerInactivityTimeoutMinutes: "360",
  // Acknowledged messages stay, so that a record missing from a table can be looked for in its topic (trace.ts).
  defaultRetentionTimeInMinutes: "-1",
  defaultRetentionSizeInMB: "-1",
};

export function durableConfig(base: string): string {
  const lines = base.split("\n").filter((line) => {
    const key = line.split("=")[0]?.trim() ?? "";
    return !(key in DURABLE_SETTINGS);
  });
  return `${lines.join("\n").trimEnd()}\n${Object.entries(DURABLE_SETTINGS)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n")}\n`;
}

/**
 * A Pulsar standalone of the harness's own, on its own ports and folder. Unlike the shared test servers it can
 * be killed and started again on the same data.
 */
export class Broker {
  private child: ChildProcess | undefined;
  private readonly run: JvmRun;
  startedTimes: number[] = [];

  readonly dir: string;
  readonly ports: BrokerPorts;

  constructor(dir: string, ports: BrokerPorts) {
    this.dir = dir;
    this.ports = ports;
    this.run = {
      dir,
      confDir: join(dir, "conf"),
      dataDir: join(dir, "data"),
      tmpDir: join(dir, "tmp"),
      logsDir: join(dir, "logs"),
      logFile: join(dir, "logs", "pulsar.log"),
      lib: "",
      java: "",
    };
  }

  get serviceUrl(): string {
    return `pulsar://127.0.0.1:${this.ports.broker}`;
  }

  get webServiceUrl(): string {
    return `http://127.0.0.1:${this.ports.web}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Fresh folders and config, then start. */
  async create(): Promise<number> {
    for (const sub of [this.run.confDir, this.run.dataDir, this.run.tmpDir]) {
      rmSync(sub, { recursive: true, force: true });
    }
    for (const sub of [this.run.confDir, this.run.dataDir, this.run.tmpDir, this.run.logsDir]) {
      mkdirSync(sub, { recursive: true });
    }
    this.run.java = resolveJava17();
    this.run.lib = fetchJars("pulsar");
    pulsarServer.prepare(this.run, this.ports);
    const conf = join(this.run.confDir, "standalone.conf");
    writeFileSync(conf, durableConfig(readFileSync(conf, "utf8")));
    return this.start();
  }

  /** Starts on the existing data; resolves when the broker answers. Returns the start time in ms. */
  async start(): Promise<number> {
    const begun = Date.now();
    const launch = pulsarServer.launch(this.run, this.ports);
    const env = { ...process.env };
    delete env.PULSAR_STANDALONE_USE_ZOOKEEPER;
    const child = spawnDetached(this.run.java, javaArgs(this.run, launch), {
      cwd: this.run.dir,
      logFile: this.run.logFile,
      env,
    });
    this.child = child;
    const pid = child.pid as number;
    const outcome = await waitUntil(() => pulsarServer.healthy(this.ports), {
      timeoutMs: 240_000,
      intervalMs: 500,
      abort: () => (isAlive(pid) ? undefined : "exited"),
    });
    if (!outcome.ready) {
      throw new Error(`own Pulsar (pid ${pid}) ${outcome.reason}:\n${await tailFile(this.run.logFile, 30)}`);
    }
    this.startedTimes.push(Date.now() - begun);
    return Date.now() - begun;
  }

  kill(): void {
    const pid = this.child?.pid;
    if (pid !== undefined && isAlive(pid)) process.kill(pid, "SIGKILL");
  }

  async waitGone(): Promise<void> {
    const pid = this.child?.pid;
    while (pid !== undefined && isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (pid !== undefined) await stopProcess(pid, this.run.confDir, 30_000);
  }
}
