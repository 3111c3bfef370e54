import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@pulsar-connect/core/host";
import { WorkerError, type WorkerErrorCode } from "../../errors.ts";
import { fetchArchive } from "../archive-fetch.ts";
import { type Authenticator, authorizePackageInstall } from "../auth.ts";
import { type ConnectorManager, type Kind, stringOrUndefined } from "../connector-manager.ts";
import { readBody, readSubmission, sendJson, sendNoContent } from "../http.ts";
import { UNPACK_RATIO } from "../packages.ts";
import { type ConnectorStatus, type InstanceStatus, upstreamConnectorStatus } from "../status.ts";
import { inspectTarball } from "../tarball.ts";
import type { ClusterScheduler } from "./cluster-scheduler.ts";
import { type PackageTopic, SHARED_PACKAGE_HEADER } from "./package-topic.ts";

/**
 * Marks a request one worker sends another: it is answered where it arrives, never sent on again. Anyone can set it,
 * so it decides nothing else: a write arriving with it is still refused by a worker that does not lead.
 */
export const FORWARDED_HEADER = "x-pulsar-connect-forwarded";

/** The error a worker's HTTP status stands for, when another worker's answer is passed on. */
const ANSWERED_AS: Record<number, WorkerErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  503: "NOT_READY",
};

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
  /** How this worker reads a `file://` archive of a request it forwards, and where it keeps the package. */
  localFiles: {
    packages: PackageTopic;
    fileDirs: string[];
    maxPackageBytes: number;
    packageUploaders?: "superusers" | "tenant-admins" | "none";
  };
  /**
   * How long a forwarded request may take (10 s). Short: a request queued on a leader that froze must not be
   * applied long after its client gave up.
   */
  timeoutMs?: number;
  /**
   * How long a forwarded create or update that brings a package may take (6 min): the leader fetches the package
   * (up to 2 min) and installs it with npm (up to 3 min) before it answers.
   */
  packageTimeoutMs?: number;
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

/** Whether a request body may bring a connector package: a multipart upload, or an http(s):// or file:// archive. */
function bringsPackage(request: IncomingMessage, body: Buffer | undefined): boolean {
  if (!body || body.length === 0) return false;
  const type = String(request.headers["content-type"] ?? "");
  if (type.startsWith("multipart/")) return true;
  return /"archive"\s*:\s*"(?:https?|file):\/\//i.test(body.toString("utf8"));
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
        const body =
          method === "GET" || method === "HEAD" ? undefined : await readBody(request, this.settings.maxBodyBytes);
        const extra =
          body !== undefined && target.rest.length === 0 && method !== "DELETE"
            ? await this.keepLocalFile(request, target, body)
            : {};
        await this.proxy(request, response, leader, body, extra);
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
      if (target.rest.length === 2 && /^\d+$/.test(first as string) && second === "restart" && method !== "GET") {
        // A stopped instance restarts as upstream's restart does: it runs again, which is a change of the stored state.
        this.authorize(request, target);
        const stopped = this.settings.manager.stoppedInstances(target.kind, target);
        if (stopped.includes(Number(first))) {
          await this.startThroughLeader(request, target, [Number(first)]);
          sendNoContent(response);
          return true;
        }
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

  /**
   * Starts stopped instances: the leader stores them as running, and their owners start them when they read it.
   * Instance by instance, each as the `start` a client would send the leader.
   */
  private async startThroughLeader(request: IncomingMessage, target: Target, instanceIds: number[]): Promise<void> {
    const { scheduler, manager } = this.settings;
    for (const instanceId of instanceIds) {
      if (scheduler.isLeader()) {
        await manager.control(target.kind, target, "start", String(instanceId));
        continue;
      }
      const leader = scheduler.leaderUrl();
      if (!leader) throw new WorkerError("NOT_READY", "The cluster has no leader at the moment; retry shortly");
      const answer = await this.send(request, leader, `${this.instancePath(target, instanceId)}/start`, "POST");
      if (answer.status >= 300) {
        // The leader's refusal is the caller's answer (a role that may not manage the tenant, a connector gone).
        const code = ANSWERED_AS[answer.status] ?? "INTERNAL";
        throw new WorkerError(
          code,
          `Starting instance ${instanceId} on the leader failed: HTTP ${answer.status} ${answer.body.toString("utf8")}`,
        );
      }
    }
  }

  /** A connector's restart: each instance restarts where it runs; stopped instances are started (upstream's restart). */
  private async restartEverywhere(request: IncomingMessage, response: ServerResponse, target: Target): Promise<void> {
    this.authorize(request, target);
    const local = this.settings.manager.status(target.kind, target, undefined) as ConnectorStatus;
    const stopped = this.settings.manager.stoppedInstances(target.kind, target);
    if (stopped.length > 0) await this.startThroughLeader(request, target, stopped);
    const failures: string[] = [];
    await Promise.all(
      local.instances
        .filter(({ instanceId }) => !stopped.includes(instanceId))
        .map(async ({ instanceId }) => {
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
    timeoutMs: number = this.settings.timeoutMs ?? 10_000,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: Buffer }> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      // Only this worker says which package it read: a client's own header is not passed on.
      if (HOP_HEADERS.has(name) || name === SHARED_PACKAGE_HEADER || value === undefined) continue;
      headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    Object.assign(headers, extraHeaders, { [FORWARDED_HEADER]: this.settings.selfId() });
    const answer = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body } : {}),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: answer.status, headers: answer.headers, body: Buffer.from(await answer.arrayBuffer()) };
  }

  /**
   * Reads the `file://` archive a create or update names on this worker, the one that received it (as upstream,
   * where the worker receiving the request reads the file), and keeps it in the package topic; answers the header
   * that tells the leader where the package is. Nothing for other submissions: the leader checks those.
   */
  private async keepLocalFile(request: IncomingMessage, target: Target, body: Buffer): Promise<Record<string, string>> {
    let archive: string | undefined;
    try {
      const submission = await readSubmission(request, body, target.kind);
      if (submission.packageData !== undefined) return {};
      archive = submission.url ?? stringOrUndefined(submission.config.archive);
    } catch {
      return {};
    }
    if (archive === undefined || !/^file:\/\//i.test(archive)) return {};
    // Checked before anything is read: the leader checks again, but this worker's files are read here.
    const principal = this.settings.auth.authenticate(request.headers.authorization);
    this.settings.auth.authorizeTenant(principal, target.tenant);
    const { packages, fileDirs, maxPackageBytes, packageUploaders } = this.settings.localFiles;
    authorizePackageInstall(principal, packageUploaders);
    const tarball = await fetchArchive(archive, { fileDirs, maxBytes: maxPackageBytes });
    // Only a package tarball is kept in the cluster's topic: anything else is refused here, before it is stored.
    inspectTarball(tarball, maxPackageBytes * UNPACK_RATIO);
    const integrity = await packages.put(tarball);
    return { [SHARED_PACKAGE_HEADER]: `${integrity} ${await packages.claim(integrity)}` };
  }

  /** Sends the request on to another worker and answers with what it answered. */
  private async proxy(
    request: IncomingMessage,
    response: ServerResponse,
    base: string,
    readAlready?: Buffer,
    extraHeaders: Record<string, string> = {},
  ): Promise<void> {
    const method = request.method ?? "GET";
    const body =
      readAlready ??
      (method === "GET" || method === "HEAD" ? undefined : await readBody(request, this.settings.maxBodyBytes));
    let answer: Awaited<ReturnType<ClusterRoutes["send"]>>;
    try {
      const timeoutMs = bringsPackage(request, body)
        ? (this.settings.packageTimeoutMs ?? 360_000)
        : (this.settings.timeoutMs ?? 10_000);
      answer = await this.send(request, base, request.url ?? "/", method, body, timeoutMs, extraHeaders);
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
