import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "../../../..");
const cliBin = join(root, "packages/cli/bin/pulsar-connect.js");
const connectorsDir = join(import.meta.dirname, "../..");

export interface WorkerOptions {
  port: number;
  dataDir: string;
  logFile: string;
  pulsarUrl: string;
  pulsarAdminUrl: string;
  /** Joins the cluster of workers named so (`--cluster`); absent: a standalone worker. */
  cluster?: string;
}

export interface InstanceStatus {
  running: boolean;
  error?: string;
  state?: string;
  numRestarts?: number;
  /** Cluster mode: the worker the instance runs on. */
  workerId?: string;
}

export class AdminError extends Error {
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = "AdminError";
    this.retryable = retryable;
  }
}

/** A pulsar-connect worker started from the `pulsar-connect` binary, as a user starts one. */
export class Worker {
  private child: ChildProcess | undefined;
  starts = 0;

  readonly options: WorkerOptions;

  constructor(options: WorkerOptions) {
    this.options = options;
  }

  /** Whether its process lives (it may be frozen). */
  get alive(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** `host:port`, as a cluster lists its members. */
  get workerId(): string {
    return `127.0.0.1:${this.options.port}`;
  }

  /** SIGSTOP (`thaw` sends SIGCONT) to its process group: the worker and the Node process the binary re-executes. */
  freeze(): void {
    this.signalGroup("SIGSTOP");
  }

  thaw(): void {
    this.signalGroup("SIGCONT");
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.alive) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  async start(): Promise<void> {
    const fd = openSync(this.options.logFile, "a");
    try {
      // Its own process group: the binary re-executes Node, and a SIGKILL must reach both processes.
      this.child = spawn(
        process.execPath,
        [
          cliBin,
          "worker",
          "--port",
          String(this.options.port),
          "--data-dir",
          this.options.dataDir,
          "--connectors-dir",
          connectorsDir,
          "--pulsar-url",
          this.options.pulsarUrl,
          "--pulsar-admin-url",
          this.options.pulsarAdminUrl,
          ...(this.options.cluster === undefined ? [] : ["--cluster", this.options.cluster]),
        ],
        { stdio: ["ignore", fd, fd], detached: true },
      );
    } finally {
      closeSync(fd);
    }
    this.starts++;
    const child = this.child;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the worker exited during start-up (${child.exitCode ?? child.signalCode})`);
      }
      try {
        if ((await fetch(`${this.adminUrl}/health`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the worker did not answer on ${this.adminUrl} within 60 s`);
  }

  private exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once("exit", () => resolve()));
  }

  async kill(): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    const gone = this.exited();
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
    await gone;
  }

  /** SIGTERM as a service manager sends it; a worker that has not exited after `graceMs` is killed. */
  async stop(graceMs = 90_000): Promise<{ graceful: boolean }> {
    const pid = this.child?.pid;
    if (pid === undefined) return { graceful: true };
    const gone = this.exited();
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return { graceful: true };
    }
    const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), graceMs).unref());
    if ((await Promise.race([gone.then(() => "gone" as const), timer])) === "late") {
      await this.kill();
      return { graceful: false };
    }
    return { graceful: true };
  }

  /**
   * One call of the admin API (`/admin/v3/sinks|sources`, the paths and JSON the `pulsar-connect` CLI and
   * `pulsar-admin` use). Rejects with the status and answer; `retryable` when the worker did not answer or
   * answered 5xx.
   */
  async admin(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.adminUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (error) {
      throw new AdminError(`${method} ${path}: no answer (${(error as Error).message})`, true);
    }
    if (response.ok) return;
    const text = (await response.text()).slice(0, 300);
    throw new AdminError(`${method} ${path}: HTTP ${response.status} ${text}`, response.status >= 500);
  }

  /** A GET of the admin API answered with JSON, or undefined when the worker does not answer 2xx within `timeoutMs`. */
  async get(path: string, timeoutMs = 5_000): Promise<unknown> {
    try {
      const response = await fetch(`${this.adminUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return undefined;
      return await response.json();
    } catch {
      return undefined;
    }
  }

  /** Instance statuses of a connector, or undefined when the worker does not know it (or does not answer). */
  async status(kind: "source" | "sink", name: string): Promise<InstanceStatus[] | undefined> {
    try {
      const response = await fetch(`${this.adminUrl}/admin/v3/${kind}s/public/default/${name}/status`, {
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) return undefined;
      const body = (await response.json()) as { instances?: Array<{ status: InstanceStatus }> };
      return (body.instances ?? []).map((instance) => instance.status);
    } catch {
      return undefined;
    }
  }
}
