import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@pulsar-connect/core/host";
import { WorkerError } from "../../errors.ts";
import type { Authenticator } from "../auth.ts";
import type { ConnectorManager, Kind } from "../connector-manager.ts";
import { readBody, sendJson, sendNoContent } from "../http.ts";
import { type ConnectorStatus, type InstanceStatus, upstreamConnectorStatus } from "../status.ts";
import type { ClusterScheduler } from "./cluster-scheduler.ts";

/**
 * Marks a request one worker sends another: it is answered where it arrives, never sent on again. Anyone can set it,
 * so it decides nothing else: a write arriving with it is still refused by a worker that does not lead.
 */
export const FORWARDED_HEADER = "x-pulsar-connect-forwarded";

/** Headers that describe one hop of HTTP, not the request. */
const HOP_HEADERS = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"]);

/** Settings of {@link ClusterRoutes}. */
export interface ClusterRoutesSettings {
  scheduler: ClusterScheduler;
  manager: ConnectorManager;
  auth: Authenticator;
  logger: Logger;
  selfId: () => string;
  /** Largest request body forwarded (the worker's maxBodyBytes plus a package). */
  maxBodyBytes: number;
  /**
   * How long a forwarded request may take (10 s). Short: a request queued on a leader that froze must not be
   * applied long after its client gave up (cluster mode refuses package uploads, so no body is large).
   */
  timeoutMs?: number;
}

interface Target {
  kind: Kind;
  tenant: string;
  namespace: string;
  name: string;
  /** What follows the name: empty, `status`, `stop`, `<id>/status`, ... */
  rest: string[];
}

function parseTarget(pathname: string): Target | undefined {
  const match = /^\/admin\/v3\/(sinks|sink|sources|source)\/([^/]+)\/([^/]+)\/([^/]+)((?:\/[^/]+)*)\/?$/.exec(pathname);
  if (!match) return undefined;
  try {
    return {
      kind: match[1]?.startsWith("sink") ? "sink" : "source",
      tenant: decodeURIComponent(match[2] as string),
      namespace: decodeURIComponent(match[3] as string),
      name: decodeURIComponent(match[4] as string),
      rest: (match[5] ?? "").split("/").filter((part) => part !== ""),
    };
  } catch {
    return undefined;
  }
}

/**
 * The part of the admin API a cluster adds in front of the worker's own routes, so that any worker answers for the
 * whole cluster: connector writes go to the leader (the one writer of the connector store, which keeps `create`
 * conflicts and the order of changes right), per-instance operations go to the worker that runs the instance, and
 * a connector's status gathers every instance from its owner. Requests are proxied, not redirected, so that clients
 * that do not follow redirects with a body (multipart uploads) work too.
 */
export class ClusterRoutes {
  private readonly settings: ClusterRoutesSettings;

  constructor(settings: ClusterRoutesSettings) {
    this.settings = settings;
  }

  /** Answers the request when the cluster must; false when the worker's own routes answer it. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const method = request.method ?? "GET";
    const url = new URL(request.url ?? "/", "http://worker.local");
    const target = parseTarget(url.pathname);
    if (!target) return false;
    const { scheduler } = this.settings;
    const [first, second] = target.rest;
    const forwarded = request.headers[FORWARDED_HEADER] !== undefined;
    try {
      // Every change of the stored state (start/stop of one instance too) is written by the leader alone.
      const isWrite =
        (target.rest.length === 0 && (method === "POST" || method === "PUT" || method === "DELETE")) ||
        (target.rest.length === 1 && (first === "stop" || first === "start") && method !== "GET") ||
        (target.rest.length === 2 &&
          /^\d+$/.test(first as string) &&
          (second === "stop" || second === "start") &&
          method !== "GET");
      if (isWrite) {
        if (scheduler.isLeader()) return false;
        // Sent here as to the leader, but this worker does not (or no longer) lead: never written here.
        if (forwarded) {
          throw new WorkerError("NOT_READY", "This worker does not lead the cluster (any more); retry shortly");
        }
        const leader = scheduler.leaderUrl();
        if (!leader) throw new WorkerError("NOT_READY", "The cluster has no leader at the moment; retry shortly");
        await this.proxy(request, response, leader);
        return true;
      }
      if (forwarded) return false;
      if (target.rest.length === 1 && first === "restart" && method !== "GET") {
        await this.restartEverywhere(request, response, target);
        return true;
      }
      if (target.rest.length === 1 && first === "status" && method === "GET") {
        await this.gatherStatus(request, response, target);
        return true;
      }
      if (target.rest.length === 2 && /^\d+$/.test(first as string) && (second === "status" || second === "restart")) {
        const owner = scheduler.ownerUrl({ ...target, instanceId: Number(first) });
        if (!owner || owner.workerId === this.settings.selfId()) return false;
        await this.proxy(request, response, owner.url);
        return true;
      }
      return false;
    } catch (error) {
      const known = error instanceof WorkerError ? error : undefined;
      if (!response.headersSent) sendJson(response, known?.status ?? 502, { reason: (error as Error).message });
      else response.destroy();
      return true;
    }
  }

  private authorize(request: IncomingMessage, target: Target): void {
    const principal = this.settings.auth.authenticate(request.headers.authorization);
    this.settings.auth.authorizeTenant(principal, target.tenant);
  }

  /** Every instance's status, each from the worker that runs it. */
  private async gatherStatus(request: IncomingMessage, response: ServerResponse, target: Target): Promise<void> {
    this.authorize(request, target);
    const local = this.settings.manager.status(target.kind, target, undefined) as ConnectorStatus;
    const instances = await Promise.all(
      local.instances.map(async ({ instanceId, status }): Promise<{ instanceId: number; status: InstanceStatus }> => {
        const owner = this.settings.scheduler.ownerUrl({ ...target, instanceId });
        if (!owner || owner.workerId === this.settings.selfId()) return { instanceId, status };
        try {
          const answer = await this.send(request, owner.url, `${this.instancePath(target, instanceId)}/status`, "GET");
          if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
          return { instanceId, status: JSON.parse(answer.body.toString("utf8")) as InstanceStatus };
        } catch (error) {
          return {
            instanceId,
            status: {
              ...status,
              running: false,
              workerId: owner.workerId,
              error: `the worker running this instance (${owner.workerId}) did not answer: ${(error as Error).message}`,
            } as InstanceStatus,
          };
        }
      }),
    );
    sendJson(response, 200, upstreamConnectorStatus(instances));
  }

  /** A connector's restart: each instance restarts where it runs. */
  private async restartEverywhere(request: IncomingMessage, response: ServerResponse, target: Target): Promise<void> {
    this.authorize(request, target);
    const local = this.settings.manager.status(target.kind, target, undefined) as ConnectorStatus;
    const failures: string[] = [];
    await Promise.all(
      local.instances.map(async ({ instanceId }) => {
        const owner = this.settings.scheduler.ownerUrl({ ...target, instanceId });
        try {
          if (!owner || owner.workerId === this.settings.selfId()) {
            await this.settings.manager.control(target.kind, target, "restart", String(instanceId));
            return;
          }
          const answer = await this.send(
            request,
            owner.url,
            `${this.instancePath(target, instanceId)}/restart`,
            "POST",
          );
          if (answer.status >= 300) throw new Error(`HTTP ${answer.status}: ${answer.body.toString("utf8")}`);
        } catch (error) {
          failures.push(`instance ${instanceId}: ${(error as Error).message}`);
        }
      }),
    );
    if (failures.length > 0) throw new WorkerError("INTERNAL", `Restart failed for ${failures.join("; ")}`);
    sendNoContent(response);
  }

  private instancePath(target: Target, instanceId: number): string {
    const segment = target.kind === "sink" ? "sinks" : "sources";
    return `/admin/v3/${segment}/${[target.tenant, target.namespace, target.name].map(encodeURIComponent).join("/")}/${instanceId}`;
  }

  private async send(
    request: IncomingMessage,
    base: string,
    path: string,
    method: string,
    body?: Buffer,
  ): Promise<{ status: number; headers: Headers; body: Buffer }> {
    const headers: Record<string, string> = { [FORWARDED_HEADER]: this.settings.selfId() };
    for (const [name, value] of Object.entries(request.headers)) {
      if (HOP_HEADERS.has(name) || value === undefined) continue;
      headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const answer = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body } : {}),
      redirect: "manual",
      signal: AbortSignal.timeout(this.settings.timeoutMs ?? 10_000),
    });
    return { status: answer.status, headers: answer.headers, body: Buffer.from(await answer.arrayBuffer()) };
  }

  /** Sends the request on to another worker and answers with what it answered. */
  private async proxy(request: IncomingMessage, response: ServerResponse, base: string): Promise<void> {
    const method = request.method ?? "GET";
    const body =
      method === "GET" || method === "HEAD" ? undefined : await readBody(request, this.settings.maxBodyBytes);
    let answer: Awaited<ReturnType<ClusterRoutes["send"]>>;
    try {
      answer = await this.send(request, base, request.url ?? "/", method, body);
    } catch (error) {
      throw new WorkerError(
        "NOT_READY",
        `The worker at ${base} did not answer: ${(error as Error).message}; retry shortly`,
        {
          cause: error,
        },
      );
    }
    const headers: Record<string, string> = {};
    for (const name of ["content-type", "location"]) {
      const value = answer.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    response.writeHead(answer.status, headers);
    response.end(answer.body);
  }
}
