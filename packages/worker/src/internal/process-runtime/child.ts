// Entry of an instance process: runs one connector instance for the worker that forked it, reports its status and
// counters as a heartbeat, and exits when the worker goes away (its IPC channel closes).
import { pathToFileURL } from "node:url";
import type {
  FunctionDefinition,
  LogFields,
  Logger,
  SinkDefinition,
  SourceDefinition,
} from "@pulsar-connect/core/host";
import { authenticationFromPlugin, PulsarClient, tokenAuthentication } from "@pulsar-connect/pulsar-client";
import {
  type ConnectorInstance,
  createInstance,
  type ResolvedSinkConfig,
  type ResolvedSourceConfig,
} from "@pulsar-connect/runtime";
import type { FromInstance, LaunchSpec, LogLevel, StatsSnapshot, ToInstance } from "./protocol.ts";

let instance: ConnectorInstance | undefined;
let client: PulsarClient | undefined;
let reporter: NodeJS.Timeout | undefined;
let exiting = false;

function send(message: FromInstance): Promise<void> {
  return new Promise((done) => {
    if (!process.connected) return done();
    process.send?.(message, undefined, {}, () => done());
  });
}

/** Sends the last word and exits; the worker reads the exit code together with it. */
async function exit(code: number, last?: FromInstance): Promise<void> {
  if (exiting) return;
  exiting = true;
  if (reporter) clearInterval(reporter);
  clearInterval(heartbeat);
  try {
    if (instance) await send(report(instance));
    if (last) await send(last);
    // Bounded: a broker that does not answer must not keep the process (and its end) from the worker.
    if (client) await Promise.race([client.close(), new Promise((done) => setTimeout(done, 5_000).unref())]);
  } catch {
    // A broken instance may not report, a broken client may not close: the exit below is what matters.
  } finally {
    process.exit(code);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ipcLogger(bindings: LogFields): Logger {
  const line =
    (level: LogLevel) =>
    (fields: LogFields | string, message?: string): void => {
      const own = typeof fields === "string" ? {} : fields;
      const text = typeof fields === "string" ? fields : message;
      void send({ type: "log", level, fields: { ...bindings, ...own }, message: text });
    };
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    child: (more) => ipcLogger({ ...bindings, ...more }),
  };
}

function statsOf(running: ConnectorInstance): StatsSnapshot {
  const stats = running.stats;
  return {
    received: stats.received,
    written: stats.written,
    connectorExceptions: stats.connectorExceptions,
    systemExceptions: stats.systemExceptions,
    deadLettered: stats.deadLettered,
    dropped: stats.dropped,
    acked: stats.acked,
    lastReceivedTime: stats.lastReceivedTime,
    lastWrittenTime: stats.lastWrittenTime,
    latestConnectorExceptions: [...stats.latestConnectorExceptions],
    latestSystemExceptions: [...stats.latestSystemExceptions],
    userMetrics: [...stats.userMetrics.entries()],
    writeLatency: [...stats.writeLatency.counts],
  };
}

function report(running: ConnectorInstance): FromInstance {
  return { type: "report", status: running.status(), stats: statsOf(running) };
}

async function start(spec: LaunchSpec): Promise<void> {
  const module = (await import(pathToFileURL(spec.entryModule).href)) as { default?: unknown };
  const definition = module.default as SinkDefinition | SourceDefinition;
  const { auth } = spec.pulsar;
  const authentication = auth.token
    ? tokenAuthentication(auth.token)
    : authenticationFromPlugin(auth.plugin, auth.params);
  const tls = spec.pulsar.client.tls;
  client = new PulsarClient({
    ...spec.pulsar.client,
    // A Buffer arrives as a plain Uint8Array through the IPC channel.
    ...(tls?.ca ? { tls: { ...tls, ca: Buffer.from(tls.ca as Uint8Array) } } : {}),
    ...(authentication ? { authentication } : {}),
  });
  const common = {
    instanceId: spec.instanceId,
    pulsar: { client, adminUrl: spec.pulsar.adminUrl, authToken: authentication?.bearerToken },
    logger: ipcLogger({}),
    workerId: spec.workerId,
  };
  const created =
    spec.kind === "sink"
      ? createInstance({
          ...common,
          kind: "sink",
          config: spec.config as ResolvedSinkConfig,
          definition: definition as SinkDefinition,
          transformFunction: spec.transformModule
            ? ((await import(pathToFileURL(spec.transformModule).href)) as { default: FunctionDefinition }).default
            : undefined,
        })
      : createInstance({
          ...common,
          kind: "source",
          config: spec.config as ResolvedSourceConfig,
          definition: definition as SourceDefinition,
        });
  instance = created;
  created.done.then(
    () => void exit(0, { type: "ended" }),
    (error: unknown) => void exit(1, { type: "failed", error: messageOf(error ?? "instance failed") }),
  );
  clearInterval(heartbeat);
  reporter = setInterval(() => void send(report(created)), spec.reportIntervalMs);
  await created.start();
  await send(report(created));
  await send({ type: "started" });
}

// Until the instance reports, a bare heartbeat says the event loop turns (loading a connector can take a while).
const heartbeat = setInterval(() => void send({ type: "heartbeat" }), 500);
void send({ type: "heartbeat" });

process.on("message", (message: ToInstance) => {
  if (message.type === "start") {
    start(message.spec).catch((error: unknown) => void exit(1, { type: "startFailed", error: messageOf(error) }));
  } else if (message.type === "stop") {
    const running = instance;
    if (!running) void exit(0, { type: "ended" });
    else
      running.stop().then(
        () => exit(0, { type: "ended" }),
        (error: unknown) => exit(1, { type: "failed", error: messageOf(error) }),
      );
  }
});

// Ctrl-C in a terminal and a service manager's SIGTERM reach the whole process group: the worker drains its
// instances itself, in order, so the signals are left to it.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => undefined);

// The worker is gone (exited, killed): nobody supervises this instance any more.
process.on("disconnect", () => {
  exiting = true;
  process.exit(1);
});

// A connector's stray throw ends its own process only; the worker restarts it.
process.on(
  "uncaughtException",
  (error) => void exit(1, { type: "failed", error: `uncaught exception: ${messageOf(error)}` }),
);
process.on(
  "unhandledRejection",
  (error) => void exit(1, { type: "failed", error: `unhandled rejection: ${messageOf(error)}` }),
);
