import type { IncomingMessage, ServerResponse } from "node:http";
import type { ResolvedSinkConfig, ResolvedSourceConfig } from "@pulsar-connect/runtime";
import { WorkerError } from "../../errors.ts";
import type { Principal } from "../auth.ts";
import { readBody, sendJson } from "../http.ts";
import type { InstanceStatus } from "../status.ts";
import type { SlotCounters } from "../supervisor.ts";
import { type DeadLetterClient, deadLetterTopicsOf, peekDeadLetters, replayDeadLetters } from "./dlq.ts";
import type { ConnectorLogs } from "./logs.ts";

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
}

const PEEK_LIMIT_MAX = 200;
const BACKLOG_TTL_MS = 5_000;

/** The console's JSON API under `/console/api/v1/`: views over several admin endpoints and the dead-letter topics. */
export class ConsoleApi {
  private readonly host: ConsoleHost;
  private readonly backlogs = new Map<string, { at: number; value: Promise<number | null> }>();

  constructor(host: ConsoleHost) {
    this.host = host;
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
