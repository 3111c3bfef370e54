import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { WorkerOptions } from "../src/index.ts";

/** Polls `check` until it returns true. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ""}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Runs a command to its end; its exit code and what it printed. */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, options);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The URL a worker process prints once its admin API is up (`listening <url>`, as the fixtures run-worker.ts and
 * run-cluster-worker.ts do); fails if `worker` (as the error names it) exits before.
 */
export function listeningUrl(child: ChildProcess, worker = "the worker"): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening (\S+)/.exec(output);
      if (found) resolve(found[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`${worker} exited with ${code} before listening`)));
  });
}

/** Lines of a file, or [] when it does not exist yet. */
export function linesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "");
}

/** A JSON request; the parsed answer with status and raw text. */
export async function http(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: test answers are read loosely
): Promise<{ status: number; json: any; text: string }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof FormData) init.body = body;
    else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
  }
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** The broker's view of a subscription on a topic (type, backlog, consumers), or undefined. */
export async function subscriptionStats(
  adminUrl: string,
  topic: string,
  subscription: string,
): Promise<{ type: string; msgBacklog: number; consumers: unknown[] } | undefined> {
  const response = await fetch(`${adminUrl}/admin/v2/persistent/public/default/${topic}/stats`);
  if (!response.ok) return undefined;
  const stats = (await response.json()) as {
    subscriptions: Record<string, { type: string; msgBacklog: number; consumers: unknown[] }>;
  };
  return stats.subscriptions[subscription];
}

declare module "vitest" {
  export interface ProvidedContext {
    /** Endpoints of the servers of test/services.json (provided by the services global setup). */
    services: { pulsar?: { serviceUrl: string; webServiceUrl: string } };
  }
}

/**
 * The options of a worker on any free port, with the test's data and host folders, on the given Pulsar, that appends
 * its log lines to `logs`.
 */
export function testWorkerOptions(settings: {
  dataDir: string;
  hostDir: string;
  serviceUrl: string;
  adminUrl: string;
  logs: string[];
}): Pick<WorkerOptions, "port" | "dataDir" | "hostDirs" | "pulsarServiceUrl" | "pulsarAdminUrl" | "logDestination"> {
  return {
    port: 0,
    dataDir: settings.dataDir,
    hostDirs: [settings.hostDir],
    pulsarServiceUrl: settings.serviceUrl,
    pulsarAdminUrl: settings.adminUrl,
    logDestination: { write: (line: string) => settings.logs.push(line) },
  };
}

/**
 * Process ids of the live instance processes whose label (`kind:tenant/namespace/name:instanceId`, their first
 * argument) starts with `labelPrefix`; zombies count as gone.
 */
export function instanceProcesses(labelPrefix: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const childIndex = args.findIndex((arg) => /process-runtime[/\\]child\.m?[jt]s$/.test(arg));
      if (childIndex < 0 || !args[childIndex + 1]?.startsWith(labelPrefix)) continue;
      const state = readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /, "")[0];
      if (state !== "Z" && state !== "X") pids.push(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}

/** The Node flags an instance process was started with (from its command line). */
export function processFlags(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .filter((arg) => arg.startsWith("--"));
}
