import { type ChildProcess, fork } from "node:child_process";
import type { Logger } from "@pulsar-connect/core/host";
import {
  type ConnectorInstance,
  InstanceStats,
  type SinkInstanceStatusData,
  type SourceInstanceStatusData,
} from "@pulsar-connect/runtime";
import type { FromInstance, LaunchSpec, StatsSnapshot, ToInstance } from "./protocol.ts";

/** How often an instance process reports; a report is also its heartbeat. */
export const DEFAULT_REPORT_INTERVAL_MS = 1_000;
/** A process silent this long has a blocked event loop (or is hung) and is killed. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
/** Time a new process has to load Node and say its first word, before its heartbeat is watched. */
const FIRST_HEARTBEAT_MS = 30_000;
/** Bytes of an instance process's stderr kept to explain its death. */
const STDERR_TAIL = 4_096;

const CHILD_MODULE = new URL(import.meta.url.endsWith(".ts") ? "./child.ts" : "./child.mjs", import.meta.url);

/** Options of a {@link ProcessInstance}. */
export interface ProcessInstanceOptions {
  spec: LaunchSpec;
  /** Node flags of the process: the heap limit and the connector's `runtimeFlags`. */
  execArgv: string[];
  /** Logger of the worker; the process's lines arrive with their fqfn and instance bindings. */
  logger: Logger;
  heartbeatTimeoutMs?: number;
  /** Heap limit in MiB, to explain an out-of-memory death. */
  heapLimitMiB?: number | undefined;
}

/**
 * One connector instance in a Node process of its own. The worker supervises it like an in-process instance: its
 * status and counters arrive with each heartbeat; a crash, an out-of-memory death or a missed heartbeat (a blocked
 * event loop, after which the process is killed) ends it with an error that says so.
 */
export class ProcessInstance implements ConnectorInstance {
  readonly kind: "sink" | "source";
  readonly instanceId: number;
  readonly stats: InstanceStats = new InstanceStats();
  readonly done: Promise<void>;
  private readonly options: ProcessInstanceOptions;
  private child: ChildProcess | undefined;
  private lastStatus: SinkInstanceStatusData | SourceInstanceStatusData | undefined;
  private lastHeard = 0;
  private heard = false;
  private lastCheck = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private stderrTail = "";
  /** Why the process ended, as it said or as the watchdog found. */
  private reason: string | undefined;
  private ended = false;
  private exitSeen = false;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private startWaiter: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(options: ProcessInstanceOptions) {
    this.options = options;
    this.kind = options.spec.kind;
    this.instanceId = options.spec.instanceId;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // The supervisor observes `done`; an unobserved rejection must not surface before it does.
    this.done.catch(() => undefined);
  }

  /** Process id of the instance process while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const { spec } = this.options;
    // Arguments name the instance in `ps` output; the process reads its work from the IPC channel.
    const label = `${spec.kind}:${spec.config.tenant}/${spec.config.namespace}/${spec.config.name}:${spec.instanceId}`;
    const child = fork(CHILD_MODULE, [label], {
      execArgv: this.execArgv(),
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.child = child;
    this.lastHeard = Date.now();
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => this.output("info", chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      this.output("warn", chunk);
    });
    child.on("message", (message: FromInstance) => this.receive(message));
    this.exited = new Promise<void>((done) => {
      child.once("exit", (code, signal) => {
        this.exit(code, signal);
        done();
      });
      child.once("error", (error) => {
        this.reason ??= `instance process failed: ${error.message}`;
        // A process that could not be started never exits.
        if (child.pid === undefined) {
          this.exit(null, null);
          done();
        }
      });
    });
    const timeout = this.options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const every = Math.min(1_000, Math.max(50, timeout / 4));
    this.lastCheck = Date.now();
    this.watchdog = setInterval(() => this.checkHeartbeat(timeout, every), every);
    const started = new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
    });
    this.send({ type: "start", spec: this.options.spec });
    return started;
  }

  private execArgv(): string[] {
    // Sources of the monorepo load through their export condition, as in the worker's own process.
    const fromSource = CHILD_MODULE.pathname.endsWith(".ts") ? ["--conditions=@pulsar-connect/source"] : [];
    return [...fromSource, ...this.options.execArgv];
  }

  private send(message: ToInstance): void {
    const child = this.child;
    if (!child?.connected) return;
    try {
      child.send(message);
    } catch (error) {
      this.reason ??= `cannot reach the instance process: ${(error as Error).message}`;
    }
  }

  private output(level: "info" | "warn", chunk: string): void {
    for (const line of chunk.split("\n")) {
      if (line.trim() !== "")
        this.options.logger[level]({ pid: this.child?.pid, stream: level === "info" ? "stdout" : "stderr" }, line);
    }
  }

  private receive(message: FromInstance): void {
    this.lastHeard = Date.now();
    this.heard = true;
    switch (message.type) {
      case "heartbeat":
        return;
      case "report":
        this.lastStatus = message.status;
        this.copyStats(message.stats);
        return;
      case "started":
        this.startWaiter?.resolve();
        this.startWaiter = undefined;
        return;
      case "startFailed":
      case "failed":
        this.reason = message.error;
        return;
      case "ended":
        this.ended = true;
        return;
      case "log": {
        const { level, fields } = message;
        this.options.logger[level](fields, message.message);
        return;
      }
    }
  }

  private copyStats(snapshot: StatsSnapshot): void {
    const stats = this.stats;
    stats.received = snapshot.received;
    stats.written = snapshot.written;
    stats.connectorExceptions = snapshot.connectorExceptions;
    stats.systemExceptions = snapshot.systemExceptions;
    stats.deadLettered = snapshot.deadLettered;
    stats.dropped = snapshot.dropped;
    stats.acked = snapshot.acked;
    stats.lastReceivedTime = snapshot.lastReceivedTime;
    stats.lastWrittenTime = snapshot.lastWrittenTime;
    stats.latestConnectorExceptions.splice(0, Infinity, ...snapshot.latestConnectorExceptions);
    stats.latestSystemExceptions.splice(0, Infinity, ...snapshot.latestSystemExceptions);
    stats.userMetrics.clear();
    for (const [name, value] of snapshot.userMetrics) stats.userMetrics.set(name, value);
    stats.writeLatency.counts.splice(0, Infinity, ...snapshot.writeLatency);
  }

  private checkHeartbeat(timeoutMs: number, everyMs: number): void {
    const now = Date.now();
    const late = now - this.lastCheck > everyMs + 1_000;
    this.lastCheck = now;
    if (late) {
      // The worker's own event loop stalled: the heartbeats that arrived meanwhile are still queued, unread.
      this.lastHeard = now;
      return;
    }
    const silentMs = now - this.lastHeard;
    const allowedMs = this.heard ? timeoutMs : Math.max(timeoutMs, FIRST_HEARTBEAT_MS);
    if (silentMs < allowedMs || !this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.reason = `no heartbeat from the instance process for ${Math.round(silentMs / 1000)}s (event loop blocked or hung); killed`;
    this.child.kill("SIGKILL");
  }

  private exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitSeen) return;
    this.exitSeen = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    const clean = code === 0 && (this.ended || this.stopping) && this.reason === undefined;
    if (clean) {
      this.startWaiter?.reject(new Error("instance process ended before it started"));
      this.settle.resolve();
      return;
    }
    const error = new Error(this.explain(code, signal));
    this.startWaiter?.reject(error);
    this.startWaiter = undefined;
    this.settle.reject(error);
  }

  private explain(code: number | null, signal: NodeJS.Signals | null): string {
    if (this.reason !== undefined) return this.reason;
    if (/heap out of memory|Reached heap limit/.test(this.stderrTail)) {
      const limit = this.options.heapLimitMiB;
      return `instance process ran out of memory${limit ? ` (heap limit ${limit} MiB from resources.ram)` : ""}`;
    }
    if (signal) return `instance process killed by ${signal}`;
    return `instance process exited with code ${code}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.send({ type: "stop" });
    await this.exited;
  }

  /** Kills the process: its sockets close at once, releasing Kafka partitions and Failover subscriptions. */
  async forceStop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  status(): SinkInstanceStatusData | SourceInstanceStatusData {
    if (this.lastStatus) return this.lastStatus;
    const common = {
      running: false,
      error: "",
      numRestarts: 0,
      numSystemExceptions: 0,
      latestSystemExceptions: [],
      lastReceivedTime: 0,
      workerId: this.options.spec.workerId,
      stalled: false,
      state: "starting the instance process",
    };
    return this.kind === "sink"
      ? { ...common, numReadFromPulsar: 0, numSinkExceptions: 0, latestSinkExceptions: [], numWrittenToSink: 0 }
      : { ...common, numReceivedFromSource: 0, numSourceExceptions: 0, latestSourceExceptions: [], numWritten: 0 };
  }
}
