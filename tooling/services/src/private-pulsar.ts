// A Pulsar standalone of one test file, which the test may kill and start again: the shared broker must never be
// restarted. Started through tooling/services with its own state directory, its own ports and the durable
// configuration (journal synced), so that what it acknowledged survives a kill -9.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { repoRoot } from "./internal/config.ts";

export interface PrivatePulsar {
  serviceUrl(): string;
  adminUrl(): string;
  /** SIGKILLs the broker and waits until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM: the broker shuts down in order; waits until it is gone. */
  stop(): Promise<void>;
  /** Starts the same broker again on its data and waits until it serves `public/default`. */
  start(): Promise<void>;
  /**
   * Creates `namespace` (tenant/name) with deduplication on and unlimited retention: nothing subscribes before a
   * test checks the topic, and without retention the broker may trim the ledgers rolled over at a restart.
   */
  createDurableNamespace(namespace: string): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
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
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Call at the top level of a test file: starts the broker in beforeAll, stops it in afterAll. */
export function privatePulsarBroker(runDirPrefix: string): PrivatePulsar {
  const runDir = mkdtempSync(join(tmpdir(), runDirPrefix));
  let brokerPort = 0;
  let webPort = 0;
  let pid = 0;
  let argv: string[] = [];
  let cwd = "";
  let current: ChildProcess | undefined;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    brokerPort = await freePort();
    webPort = await freePort();
    const bookiePort = await freePort();
    env = {
      PC_SERVICES_RUN: runDir,
      PULSAR_BROKER_PORT: String(brokerPort),
      PULSAR_WEB_PORT: String(webPort),
      PULSAR_BOOKIE_PORT: String(bookiePort),
      PULSAR_DURABILITY: "durable",
    };
    execFileSync(process.execPath, [join(repoRoot, "tooling/services/src/cli.ts"), "up", "pulsar"], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: "pipe",
      timeout: 240_000,
    });
    pid = (JSON.parse(readFileSync(join(runDir, "pulsar/state.json"), "utf8")) as { pid: number }).pid;
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((part) => part !== "");
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  }, 300_000);

  afterAll(async () => {
    if (current?.pid && alive(current.pid)) {
      current.kill("SIGKILL");
      await waitFor(() => !alive(current?.pid ?? 0), 30_000, "the restarted broker to stop").catch(() => undefined);
    } else if (pid && alive(pid)) {
      execFileSync(process.execPath, [join(repoRoot, "tooling/services/src/cli.ts"), "down", "pulsar"], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
        stdio: "pipe",
        timeout: 120_000,
      });
    }
    rmSync(runDir, { recursive: true, force: true });
  }, 120_000);

  const adminUrl = () => `http://127.0.0.1:${webPort}`;
  const admin = async (method: string, path: string, body?: unknown): Promise<void> => {
    const init: RequestInit = { method, headers: { "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${adminUrl()}${path}`, init);
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  const gone = async (signal: NodeJS.Signals) => {
    process.kill(pid, signal);
    await waitFor(() => !alive(pid), 60_000, `the broker to end after ${signal}`);
  };

  return {
    serviceUrl: () => `pulsar://127.0.0.1:${brokerPort}`,
    adminUrl,
    kill: () => gone("SIGKILL"),
    stop: () => gone("SIGTERM"),
    async start() {
      const [java, ...args] = argv;
      current = spawn(java as string, args, { cwd, stdio: "ignore" });
      pid = current.pid ?? 0;
      // Reaped by Node when it exits, so `alive` sees it go.
      current.on("exit", () => undefined);
      await waitFor(
        async () => {
          const response = await fetch(`${adminUrl()}/admin/v2/namespaces/public`).catch(() => undefined);
          return response?.status === 200 && (await response.text()).includes('"public/default"');
        },
        180_000,
        "the broker to serve public/default again",
      );
    },
    async createDurableNamespace(namespace) {
      await admin("PUT", `/admin/v2/namespaces/${namespace}`);
      await admin("POST", `/admin/v2/namespaces/${namespace}/deduplication`, true);
      await admin("POST", `/admin/v2/namespaces/${namespace}/retention`, {
        retentionTimeInMinutes: -1,
        retentionSizeInMB: -1,
      });
    },
  };
}
