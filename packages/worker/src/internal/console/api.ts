import type { IncomingMessage, ServerResponse } from "node:http";
import type { ResolvedSinkConfig, ResolvedSourceConfig } from "@pulsar-connect/runtime";
import { WorkerError } from "../../errors.ts";
import type { Principal } from "../auth.ts";
import { readBody, sendJson } from "../http.ts";
import type { InstanceStatus } from "../status.ts";
import type { SlotCounters } from "../supervisor.ts";
import { ClusterLogFeed, type LogOwner } from "./cluster-logs.ts";
import { type DeadLetterClient, deadLetterTopicsOf, peekDeadLetters, replayDeadLetters } from "./dlq.ts";
import { ConnectorHistory, type HistorySample } from "./history.ts";
import type { ConnectorLogs } from "./logs.ts";
import { SseStream } from "./sse.ts";

/** One connector as the worker holds it, for the console's views. */
export interface ConsoleConnector {
  kind: "sink" | "source";
  config: ResolvedSinkConfig | ResolvedSourceConfig;
  desired: Array<"running" | "stopped">;
  instances: Array<{ instanceId: number; status: InstanceStatus; counters: SlotCounters }>;
}

/** What the console needs from the worker; the worker gives it without exposing its internals. */
export interface ConsoleHost {
  authenticate(header: string | undefined): Principal;
  /** Whether the principal may manage connectors of `tenant`. */
  mayManage(principal: Principal, tenant: string): boolean;
  ready(): boolean;
  /** The connectors' latest log lines; undefined when the worker logs through a logger it was given. */
  logs(): ConnectorLogs | undefined;
  connectors(): ConsoleConnector[];
  /** The worker's Pulsar client, for dead-letter topics. */
  pulsar(): Promise<DeadLetterClient>;
  /** Backlog of a subscription on a topic (all partitions), from Pulsar's admin API. */
  subscriptionBacklog(topic: string, subscription: string): Promise<number>;
  /** Cluster mode: the other workers that run some of these instances of a connector now. */
  otherOwners?(connector: ConnectorKey, instanceIds: number[]): LogOwner[];
  /** Cluster mode: GETs a console API path on another worker with the caller's credentials; the parsed JSON. */
  fetchFromWorker?(owner: LogOwner, path: string, authorization: string | undefined): Promise<unknown>;
}

const PEEK_LIMIT_MAX = 200;
const BACKLOG_TTL_MS = 5_000;
/** How often an event stream looks for news to send. */
const PUSH_MS = 1_000;
/** A stream with nothing to say sends a comment this often, so that proxies keep the connection. */
const KEEP_ALIVE_MS = 15_000;
/** Samples of each connector the list's sparklines get (ten minutes of 10-second samples). */
const LIST_SAMPLES = 60;

export type ConnectorKey = { kind: "sink" | "source"; tenant: string; namespace: string; name: string };

const keyOf = (c: ConnectorKey) => `${c.kind}:${c.tenant}/${c.namespace}/${c.name}`;
const keyOfConnector = (c: ConsoleConnector) =>
  keyOf({ kind: c.kind, tenant: c.config.tenant, namespace: c.config.namespace, name: c.config.name });

/** Samples newer than `after` (epoch ms): what a stream has not sent yet. */
const newer = (samples: HistorySample[], after: number) => samples.filter((sample) => sample.at > after);

/** The console's JSON API under `/console/api/v1/`: views over several admin endpoints and the dead-letter topics. */
export class ConsoleApi {
  private readonly host: ConsoleHost;
  private readonly backlogs = new Map<string, { at: number; value: Promise<number | null> }>();
  private readonly history: ConnectorHistory;
  private readonly streams = new Set<SseStream>();
  private closed = false;

  constructor(host: ConsoleHost, options: { historyIntervalMs?: number } = {}) {
    this.host = host;
    const historyOptions = options.historyIntervalMs === undefined ? {} : { intervalMs: options.historyIntervalMs };
    this.history = new ConnectorHistory(
      () =>
        host.connectors().map((connector) => ({
          key: keyOfConnector(connector),
          instances: connector.instances.map(({ instanceId, counters }) => ({ instanceId, counters })),
        })),
      historyOptions,
    );
    this.history.start();
  }

  /** Ends every event stream and the sampling: an open stream must not hold the worker's shutdown. */
  close(): void {
    this.closed = true;
    this.history.stop();
    for (const stream of this.streams) stream.end();
  }

  /** How many event streams are open (for the worker's tests and diagnostics). */
  get openStreams(): number {
    return this.streams.size;
  }

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const method = request.method ?? "GET";
    const principal = this.host.authenticate(request.headers.authorization);
    if (!this.host.ready()) {
      throw new WorkerError("NOT_READY", "Worker is initializing: restoring stored connectors; retry shortly");
    }
    const rest = url.pathname
      .slice("/console/api/v1/".length)
      .split("/")
      .filter((part) => part !== "");
    const segments = rest.map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw new WorkerError("BAD_REQUEST", "Malformed percent-encoding in the request path");
      }
    });
    if (method === "GET" && segments.length === 1 && segments[0] === "whoami") {
      return sendJson(response, 200, { role: principal.role, superUser: principal.superUser });
    }
    if (method === "GET" && segments.length === 1 && segments[0] === "connectors") {
      const visible = this.host.connectors().filter((c) => this.host.mayManage(principal, c.config.tenant));
      return sendJson(response, 200, {
        at: Date.now(),
        connectors: await Promise.all(visible.map((c) => this.summary(c))),
      });
    }
    if (method === "GET" && segments.length === 1 && segments[0] === "history") {
      const visible = this.host.connectors().filter((c) => this.host.mayManage(principal, c.config.tenant));
      return sendJson(response, 200, {
        intervalMs: this.history.intervalMs,
        connectors: Object.fromEntries(
          visible.map((c) => [keyOfConnector(c), this.history.totalOf(keyOfConnector(c), LIST_SAMPLES)]),
        ),
      });
    }
    if (method === "GET" && segments[0] === "history" && segments.length === 5) {
      const connector = this.connectorAt(principal, segments, method, url);
      return sendJson(response, 200, this.fullHistory(keyOf(connector)));
    }
    if (method === "GET" && segments[0] === "events" && segments.length === 2 && segments[1] === "connectors") {
      return this.stream(request, response, undefined);
    }
    if (method === "GET" && segments[0] === "events" && segments[1] === "connector" && segments.length === 6) {
      const connector = this.connectorAt(principal, segments.slice(1), method, url);
      return this.stream(request, response, connector);
    }
    if (method === "GET" && segments[0] === "logs" && segments.length === 5) {
      const [, kind, tenant, namespace, name] = segments as [string, string, string, string, string];
      if (kind !== "sink" && kind !== "source")
        throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
      this.authorize(principal, tenant);
      const after = Number(url.searchParams.get("after") ?? "0");
      if (!Number.isInteger(after) || after < 0) throw new WorkerError("BAD_REQUEST", "after must be a whole number");
      const logs = this.host.logs();
      return sendJson(response, 200, {
        available: logs !== undefined,
        ...(logs ? { stream: logs.stream } : {}),
        lines: logs?.since(kind, `${tenant}/${namespace}/${name}`, after) ?? [],
      });
    }
    if (segments[0] === "deadletters" && segments.length >= 4) {
      const [, tenant, namespace, name, action] = segments as [string, string, string, string, string?];
      this.authorize(principal, tenant);
      const sink = this.host
        .connectors()
        .find(
          (c) =>
            c.kind === "sink" &&
            c.config.tenant === tenant &&
            c.config.namespace === namespace &&
            c.config.name === name,
        );
      if (!sink) throw new WorkerError("NOT_FOUND", `Sink ${tenant}/${namespace}/${name} doesn't exist`);
      const config = sink.config as ResolvedSinkConfig;
      if (method === "GET" && action === undefined) {
        const limit = Number(url.searchParams.get("limit") ?? "50");
        if (!Number.isInteger(limit) || limit < 1 || limit > PEEK_LIMIT_MAX) {
          throw new WorkerError("BAD_REQUEST", `limit must be a whole number from 1 to ${PEEK_LIMIT_MAX}`);
        }
        const topics = deadLetterTopicsOf(config);
        const client = await this.host.pulsar();
        return sendJson(response, 200, { topics: await peekDeadLetters(client, topics, limit) });
      }
      if (method === "POST" && action === "replay") {
        const body = await readBody(request, 1024 * 1024);
        let ids: unknown;
        try {
          ids = (JSON.parse(body.toString("utf8")) as { messageIds?: unknown }).messageIds;
        } catch {
          throw new WorkerError("BAD_REQUEST", 'Malformed JSON: send {"messageIds": ["<base64 id>", ...]}');
        }
        if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === "string" && id !== "")) {
          throw new WorkerError(
            "BAD_REQUEST",
            "messageIds must be a non-empty list of message ids as the peek gives them",
          );
        }
        const client = await this.host.pulsar();
        const result = await replayDeadLetters(client, config, ids as string[]);
        return sendJson(response, 200, result);
      }
    }
    throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
  }

  /** `<kind>/<tenant>/<namespace>/<name>` after the first segment, checked against the principal's tenants. */
  private connectorAt(principal: Principal, segments: string[], method: string, url: URL): ConnectorKey {
    const [, kind, tenant, namespace, name] = segments as [string, string, string, string, string];
    if (kind !== "sink" && kind !== "source")
      throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
    this.authorize(principal, tenant);
    return { kind, tenant, namespace, name };
  }

  private fullHistory(key: string): unknown {
    return {
      intervalMs: this.history.intervalMs,
      capacity: this.history.capacity,
      total: this.history.totalOf(key),
      instances: this.history.instancesOf(key),
    };
  }

  /**
   * An event stream: the connector list (`view` undefined) or one connector's summary, status, samples and log
   * lines. Each push re-checks the token, so a token the worker stops accepting ends the stream.
   */
  private async stream(request: IncomingMessage, response: ServerResponse, view: ConnectorKey | undefined) {
    if (this.closed) throw new WorkerError("NOT_READY", "Worker is shutting down");
    const header = request.headers.authorization;
    const stream = new SseStream(request, response);
    this.streams.add(stream);
    try {
      if (view) await this.feedConnector(stream, header, view);
      else await this.feedList(stream, header);
    } finally {
      this.streams.delete(stream);
      stream.end();
    }
  }

  private stillAllowed(stream: SseStream, header: string | undefined): Principal | undefined {
    try {
      return this.host.authenticate(header);
    } catch (error) {
      stream.send("refused", { reason: (error as Error).message });
      return undefined;
    }
  }

  private async feedList(stream: SseStream, header: string | undefined): Promise<void> {
    let sentList = "";
    let sentVersion = -1;
    const sentAt = new Map<string, number>();
    let quietSince = Date.now();
    while (stream.isOpen) {
      const principal = this.stillAllowed(stream, header);
      if (!principal) return;
      const visible = this.host.connectors().filter((c) => this.host.mayManage(principal, c.config.tenant));
      const summaries = await Promise.all(visible.map((c) => this.summary(c)));
      if (!stream.isOpen) return;
      const text = JSON.stringify(summaries);
      if (text !== sentList) {
        stream.send("connectors", { at: Date.now(), connectors: summaries });
        sentList = text;
        quietSince = Date.now();
      }
      if (this.history.version !== sentVersion) {
        sentVersion = this.history.version;
        const connectors: Record<string, HistorySample[]> = {};
        for (const connector of visible) {
          const key = keyOfConnector(connector);
          const fresh = newer(this.history.totalOf(key, LIST_SAMPLES), sentAt.get(key) ?? 0);
          if (fresh.length === 0) continue;
          connectors[key] = fresh;
          sentAt.set(key, (fresh.at(-1) as HistorySample).at);
        }
        if (Object.keys(connectors).length > 0) {
          stream.send("samples", { intervalMs: this.history.intervalMs, connectors });
          quietSince = Date.now();
        }
      }
      if (Date.now() - quietSince >= KEEP_ALIVE_MS) {
        stream.keepAlive();
        quietSince = Date.now();
      }
      await stream.pause(PUSH_MS);
    }
  }

  private async feedConnector(stream: SseStream, header: string | undefined, view: ConnectorKey): Promise<void> {
    const key = keyOf(view);
    const fqfn = `${view.tenant}/${view.namespace}/${view.name}`;
    let sentSummary = "";
    let sentStatus = "";
    let sentVersion = -1;
    let sentTotalAt = 0;
    const sentInstanceAt = new Map<number, number>();
    let logsAnnounced = false;
    // Log lines of instances on other workers come from those workers.
    const logFeed = new ClusterLogFeed(
      {
        local: this.host.logs(),
        owners: () => {
          const connector = this.host.connectors().find((c) => keyOfConnector(c) === key);
          const ids = connector?.instances.map((instance) => instance.instanceId) ?? [];
          return this.host.otherOwners?.(view, ids) ?? [];
        },
        fetchJson: (owner, path) =>
          this.host.fetchFromWorker?.(owner, path, header) ?? Promise.reject(new Error("not in a cluster")),
      },
      view.kind,
      fqfn,
    );
    let quietSince = Date.now();
    while (stream.isOpen) {
      const principal = this.stillAllowed(stream, header);
      if (!principal) return;
      if (!this.host.mayManage(principal, view.tenant)) {
        stream.send("refused", { reason: `Role '${principal.role}' may no longer manage tenant '${view.tenant}'` });
        return;
      }
      let sent = false;
      const connector = this.host.connectors().find((c) => keyOfConnector(c) === key);
      const summary = connector ? await this.summary(connector) : null;
      if (!stream.isOpen) return;
      const summaryText = JSON.stringify(summary);
      if (summaryText !== sentSummary) {
        stream.send("summary", { at: Date.now(), connector: summary });
        sentSummary = summaryText;
        sent = true;
      }
      const status = connector
        ? {
            numInstances: connector.instances.length,
            numRunning: connector.instances.filter((instance) => instance.status.running).length,
            instances: connector.instances.map(({ instanceId, status }) => ({ instanceId, status })),
          }
        : null;
      const statusText = JSON.stringify(status);
      if (statusText !== sentStatus) {
        stream.send("status", status);
        sentStatus = statusText;
        sent = true;
      }
      if (this.history.version !== sentVersion) {
        sentVersion = this.history.version;
        const total = newer(this.history.totalOf(key), sentTotalAt);
        const instances = this.history
          .instancesOf(key)
          .map(({ instanceId, samples }) => ({
            instanceId,
            samples: newer(samples, sentInstanceAt.get(instanceId) ?? 0),
          }))
          .filter((entry) => entry.samples.length > 0);
        if (total.length > 0 || instances.length > 0 || sentTotalAt === 0) {
          stream.send("samples", {
            intervalMs: this.history.intervalMs,
            capacity: this.history.capacity,
            total,
            instances,
          });
          sent = true;
        }
        sentTotalAt = total.at(-1)?.at ?? sentTotalAt;
        for (const entry of instances) sentInstanceAt.set(entry.instanceId, (entry.samples.at(-1) as HistorySample).at);
      }
      const lines = await logFeed.next();
      if (!stream.isOpen) return;
      if (lines.length > 0 || !logsAnnounced) {
        stream.send("logs", { available: this.host.logs() !== undefined, lines });
        logsAnnounced = true;
        sent = true;
      }
      if (sent) quietSince = Date.now();
      else if (Date.now() - quietSince >= KEEP_ALIVE_MS) {
        stream.keepAlive();
        quietSince = Date.now();
      }
      await stream.pause(PUSH_MS);
    }
  }

  private authorize(principal: Principal, tenant: string): void {
    if (!this.host.mayManage(principal, tenant)) {
      throw new WorkerError(
        "FORBIDDEN",
        `Role '${principal.role}' is not authorized to manage connectors of tenant '${tenant}'`,
      );
    }
  }

  private async summary(connector: ConsoleConnector): Promise<unknown> {
    const { config, kind } = connector;
    const total = (pick: (counters: SlotCounters) => number) =>
      connector.instances.reduce((sum, instance) => sum + pick(instance.counters), 0);
    const errors = connector.instances
      .flatMap((instance) => {
        const status = instance.status as unknown as Partial<Record<string, unknown>>;
        const lists = [
          ...((status.latestSinkExceptions ?? status.latestSourceExceptions ?? []) as Array<{
            exceptionString: string;
            timestampMs: number;
          }>),
          ...((status.latestSystemExceptions ?? []) as Array<{ exceptionString: string; timestampMs: number }>),
        ];
        const current =
          typeof status.error === "string" && status.error !== ""
            ? [{ exceptionString: status.error, timestampMs: Date.now() }]
            : [];
        return [...current, ...lists];
      })
      .sort((a, b) => b.timestampMs - a.timestampMs);
    const sinkConfig = kind === "sink" ? (config as ResolvedSinkConfig) : undefined;
    return {
      kind,
      tenant: config.tenant,
      namespace: config.namespace,
      name: config.name,
      type: config.archive.startsWith("builtin://") ? config.archive.slice("builtin://".length) : config.archive,
      guarantee: config.processingGuarantees,
      parallelism: config.parallelism,
      instances: connector.instances.length,
      running: connector.instances.filter((instance) => instance.status.running).length,
      stopped: connector.desired.filter((state) => state === "stopped").length,
      received: total((c) => c.received),
      written: total((c) => c.written),
      exceptions: total((c) => c.connectorExceptions + c.systemExceptions),
      lastError: errors[0] ?? null,
      backlog: sinkConfig ? await this.backlogOf(sinkConfig) : null,
      deadLetterTopics: sinkConfig ? deadLetterTopicsOf(sinkConfig) : [],
    };
  }

  /** The sink's subscription backlog, cached a few seconds so that polling consoles do not load the broker. */
  private backlogOf(config: ResolvedSinkConfig): Promise<number | null> {
    const key = `${config.tenant}/${config.namespace}/${config.name}`;
    const cached = this.backlogs.get(key);
    if (cached && Date.now() - cached.at < BACKLOG_TTL_MS) return cached.value;
    // A topic nobody has written to yet does not exist: its backlog is 0. Other failures leave it unknown (null).
    const backlogOf = (topic: string) =>
      this.host
        .subscriptionBacklog(topic, config.sourceSubscriptionName)
        .catch((error: Error) => (/HTTP 404/.test(error.message) ? 0 : Promise.reject(error)));
    const value = Promise.all(config.inputs.map(backlogOf))
      .then((counts) => counts.reduce((sum, count) => sum + count, 0))
      .catch(() => null);
    this.backlogs.set(key, { at: Date.now(), value });
    return value;
  }
}
