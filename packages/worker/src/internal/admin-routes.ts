import type { IncomingMessage, ServerResponse } from "node:http";
import { type ConfigWarning, type Logger, REDACTED } from "@pulsar-connect/core/host";
import { type ResolvedSinkConfig, referencedTenants } from "@pulsar-connect/runtime";
import { WorkerError } from "../errors.ts";
import type { WorkerOptions } from "../worker.ts";
import { archiveKind } from "./archive-fetch.ts";
import { type Authenticator, authorizePackageInstall, mayInstallPackages, type Principal } from "./auth.ts";
import { SHARED_PACKAGE_HEADER } from "./cluster/package-topic.ts";
import {
  type ConnectorManager,
  DEFAULT_MAX_PACKAGE_BYTES,
  type Kind,
  type Path,
  stringOrUndefined,
} from "./connector-manager.ts";
import type { WorkerConsole } from "./console/index.ts";
import { readBody, readSubmission, type Submission, sendJson, sendNoContent, sendText } from "./http.ts";
import { type SecretScrubber, secretValues } from "./redact.ts";
import type { ClusterView } from "./scheduler.ts";
import { WorkerApi } from "./worker-api.ts";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** What the admin routes need from the worker. */
export interface AdminRoutesSettings {
  options: WorkerOptions;
  logger: Logger;
  scrubber: SecretScrubber;
  auth: Authenticator;
  manager: ConnectorManager;
  /** False while stored connectors are being restored: connector endpoints answer 503 meanwhile. */
  ready: () => boolean;
  /** The web console, which answers every path outside `/admin/`, `/health` and `/metrics`. */
  webConsole: WorkerConsole;
  /** What the scheduler knows of the cluster, for `/admin/v2/worker/*`. */
  cluster: ClusterView;
}

/**
 * The admin REST API: `/health`, `/metrics` and pulsar-admin's `/admin/v3/sinks|sources/...`; every other path goes
 * to the web console. Authenticates and authorizes each request, reads submissions, and hands the operations to the
 * connector manager.
 */
export class AdminRoutes {
  private readonly options: WorkerOptions;
  private readonly logger: Logger;
  private readonly scrubber: SecretScrubber;
  private readonly auth: Authenticator;
  private readonly manager: ConnectorManager;
  private readonly ready: () => boolean;
  private readonly webConsole: WorkerConsole;
  private readonly workerApi: WorkerApi;
  /** Secret values of a submission, hidden from the answer to that request even when the submission is refused. */
  private readonly submittedSecrets: WeakMap<IncomingMessage, string[]> = new WeakMap();

  constructor(settings: AdminRoutesSettings) {
    this.options = settings.options;
    this.logger = settings.logger;
    this.scrubber = settings.scrubber;
    this.auth = settings.auth;
    this.manager = settings.manager;
    this.ready = settings.ready;
    this.webConsole = settings.webConsole;
    this.workerApi = new WorkerApi({
      auth: settings.auth,
      manager: settings.manager,
      cluster: settings.cluster,
      clusterName: settings.options.cluster ?? "standalone",
    });
  }

  /** Whether a principal may install connector packages here. */
  private mayInstallPackages(principal: Principal): boolean {
    return mayInstallPackages(principal, this.options.packageUploaders);
  }

  private authorizePackage(principal: Principal): void {
    authorizePackageInstall(principal, this.options.packageUploaders);
  }

  /** Answers one request; errors become upstream-shaped JSON answers with secrets removed. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = Date.now();
    try {
      await this.route(request, response);
    } catch (error) {
      const known = error instanceof WorkerError ? error : undefined;
      if (!known) {
        this.logger.error(
          { err: this.scrubber.scrub(error instanceof Error ? (error.stack ?? error.message) : String(error)) },
          "request failed",
        );
      }
      if (!response.headersSent) {
        const status = known?.status ?? 500;
        const secrets = this.submittedSecrets.get(request) ?? [];
        const scrub = (text: string) => {
          let out = this.scrubber.scrub(text);
          for (const secret of secrets) out = out.split(secret).join(REDACTED);
          return out;
        };
        const reason = scrub(known?.message ?? `Internal error: ${(error as Error)?.message ?? error}`);
        const body: Record<string, unknown> = { reason };
        if (known && known.issues.length > 0) {
          body.issues = known.issues.map((issue) => ({ path: issue.path, message: scrub(issue.message) }));
        }
        if (status === 413) response.setHeader("connection", "close");
        sendJson(response, status, body);
      } else {
        response.destroy();
      }
    } finally {
      this.logger.debug(
        { method: request.method, path: request.url, status: response.statusCode, ms: Date.now() - started },
        "request",
      );
    }
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? "GET";
    const url = new URL(request.url ?? "/", "http://worker.local");
    if (method === "GET" && url.pathname === "/health") return sendText(response, 200, "ok");
    if (method === "GET" && url.pathname === "/metrics") {
      const open = !this.auth.metricsProtected;
      if (!open) this.auth.requireSuperUser(this.auth.authenticate(request.headers.authorization), "reading /metrics");
      // An open endpoint shows counters only: exception text can hold record values of any tenant.
      return sendText(response, 200, this.manager.metrics(!open || !this.auth.enabled), "text/plain; version=0.0.4");
    }
    if (!url.pathname.startsWith("/admin/")) return this.webConsole.handle(request, response, url);
    const worker = /^\/admin\/v2\/(worker|worker-stats)(\/.*)?$/.exec(url.pathname);
    if (worker) {
      const principal = this.auth.authenticate(request.headers.authorization);
      if (!this.ready())
        throw new WorkerError("NOT_READY", "Worker is initializing: restoring stored connectors; retry shortly");
      const resource = worker[1] as "worker" | "worker-stats";
      if (await this.workerApi.handle(method, resource, worker[2] ?? "", url, principal, response)) return;
      throw this.noRoute(method, url.pathname);
    }
    const match = /^\/admin\/v3\/(sinks|sink|sources|source)(?:\/(.*))?$/.exec(url.pathname);
    if (!match) throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
    const kind: Kind = match[1]?.startsWith("sink") ? "sink" : "source";
    const principal = this.auth.authenticate(request.headers.authorization);
    const segments = (match[2] ?? "")
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => {
        try {
          return decodeURIComponent(segment);
        } catch {
          throw new WorkerError("BAD_REQUEST", "Malformed percent-encoding in the request path");
        }
      });
    if (!this.ready())
      throw new WorkerError("NOT_READY", "Worker is initializing: restoring stored connectors; retry shortly");
    const builtinsName = kind === "sink" ? "builtinsinks" : "builtinsources";
    const reloadName = kind === "sink" ? "reloadBuiltInSinks" : "reloadBuiltInSources";

    if (segments[0] === builtinsName && method === "GET") {
      if (segments.length === 1) return sendJson(response, 200, this.manager.builtins(kind));
      if (segments.length === 3 && segments[2] === "configdefinition") {
        return sendJson(response, 200, await this.manager.configDefinition(kind, segments[1] as string));
      }
    }
    if (segments.length === 1 && segments[0] === reloadName && method === "POST") {
      this.auth.requireSuperUser(principal, "reloading connectors");
      return sendJson(response, 200, await this.manager.reload());
    }
    if (segments.length < 2) throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
    const [tenant, namespace, name, fourth, fifth] = segments as [string, string, string?, string?, string?];
    this.auth.authorizeTenant(principal, tenant);
    if (segments.length === 2) {
      if (method !== "GET") throw this.noRoute(method, url.pathname);
      const names = this.manager.names(kind, tenant, namespace);
      return sendJson(response, 200, names);
    }
    const path: Path = { tenant, namespace, name: name as string };
    if (segments.length === 3) {
      switch (method) {
        case "GET": {
          return sendJson(response, 200, this.manager.publicConfigOf(kind, path));
        }
        case "POST":
          return answerWarnings(
            response,
            await this.manager.create(kind, path, await this.submission(request, kind, principal, path)),
          );
        case "PUT":
          return answerWarnings(
            response,
            await this.manager.update(kind, path, await this.submission(request, kind, principal, path)),
          );
        case "DELETE":
          await this.manager.remove(kind, path);
          return sendNoContent(response);
        default:
          throw this.noRoute(method, url.pathname);
      }
    }
    if (segments.length === 4) {
      if (fourth === "status" && method === "GET")
        return sendJson(response, 200, this.manager.status(kind, path, undefined));
      if (method === "POST" && (fourth === "start" || fourth === "stop" || fourth === "restart")) {
        await this.manager.control(kind, path, fourth, undefined);
        return sendNoContent(response);
      }
      if (method === "POST" && fourth === "validate") {
        const answer = await this.manager.validate(kind, path, await this.submission(request, kind, principal, path));
        return sendJson(response, 200, answer);
      }
    }
    if (segments.length === 5) {
      if (fifth === "status" && method === "GET")
        return sendJson(response, 200, this.manager.status(kind, path, fourth));
      if (method === "POST" && (fifth === "start" || fifth === "stop" || fifth === "restart")) {
        await this.manager.control(kind, path, fifth, fourth);
        return sendNoContent(response);
      }
    }
    throw this.noRoute(method, url.pathname);
  }

  private async submission(
    request: IncomingMessage,
    kind: Kind,
    principal: Principal,
    path: Path,
  ): Promise<Submission> {
    const maxBody = this.options.maxBodyBytes ?? 5 * 1024 * 1024;
    const multipart = String(request.headers["content-type"] ?? "")
      .toLowerCase()
      .startsWith("multipart/form-data");
    // A package upload may be larger than a config; only those who may install packages get the larger limit.
    const extra =
      multipart && this.mayInstallPackages(principal) ? (this.options.maxPackageBytes ?? DEFAULT_MAX_PACKAGE_BYTES) : 0;
    if (multipart && extra === 0 && Number(request.headers["content-length"] ?? "0") > maxBody) {
      this.authorizePackage(principal);
    }
    const body = await readBody(request, maxBody + extra);
    const submission = await readSubmission(request, body, kind);
    const given = submission.url ?? stringOrUndefined(submission.config.archive);
    if (submission.packageData !== undefined || (given !== undefined && archiveKind(given) === "url")) {
      this.authorizePackage(principal);
    }
    const config = submission.config as { archive?: unknown; sinkType?: unknown; sourceType?: unknown };
    const type = kind === "sink" ? config.sinkType : config.sourceType;
    const archive =
      submission.url ?? (typeof config.archive === "string" ? config.archive : `builtin://${String(type)}`);
    const schema = await this.manager.submittedSchema(kind, archive);
    const values = secretValues(submission.config as { configs?: Record<string, unknown> }, schema).filter(
      (value) => value.length >= 4,
    );
    this.submittedSecrets.set(
      request,
      values.sort((a, b) => b.length - a.length),
    );
    this.authorizeReferences(principal, path, submission.config);
    const shared = request.headers[SHARED_PACKAGE_HEADER];
    if (typeof shared === "string" && shared !== "") submission.sharedPackage = shared;
    return submission;
  }

  /**
   * Refuses topics, patterns and dead-letter or log topics of tenants the principal does not manage: the worker's
   * own Pulsar credentials would otherwise read, ack, write or delete there on the caller's behalf.
   */
  private authorizeReferences(principal: Principal, path: Path, config: Record<string, unknown>): void {
    if (principal.superUser) return;
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const inputs = [
      ...(Array.isArray(config.inputs) ? config.inputs : []),
      ...(isPlainObject(config.inputSpecs) ? Object.keys(config.inputSpecs) : []),
    ].filter((topic): topic is string => typeof topic === "string");
    const references = referencedTenants({
      tenant: path.tenant,
      namespace: path.namespace,
      inputs,
      topicsPattern: text(config.topicsPattern),
      deadLetterTopic: text(config.deadLetterTopic),
      logTopic: text(config.logTopic),
      ...(text(config.topicName) !== undefined ? { topicName: text(config.topicName) } : {}),
    } as unknown as ResolvedSinkConfig);
    for (const { field, tenant } of references) {
      if (tenant === path.tenant) continue;
      const value = field.startsWith("inputs.") ? (inputs[Number(field.slice(7))] as string) : String(config[field]);
      this.auth.authorizeReference(principal, tenant, field, value);
    }
  }

  private noRoute(method: string, pathname: string): WorkerError {
    return new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${pathname}`);
  }
}

/** A create/update answer: 204 as upstream when all is well, else 200 with the warnings the user must see. */
function answerWarnings(response: ServerResponse, warnings: ConfigWarning[]): void {
  if (warnings.length === 0) sendNoContent(response);
  else sendJson(response, 200, { warnings });
}
