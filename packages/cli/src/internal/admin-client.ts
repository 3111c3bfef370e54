import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { CliError } from "../errors.ts";
import type { AdminConnection } from "./admin-connection.ts";

type Kind = "sink" | "source";

/** One HTTP(S) exchange; node:https rather than fetch, which cannot take a CA file or a client certificate. */
function exchange(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string | Buffer },
  connection: AdminConnection,
): Promise<{ status: number; text: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const certificate = connection.authentication?.tlsCertificate;
    const options = {
      method: init.method,
      headers: init.headers,
      timeout: connection.timeoutMs,
      ...(url.protocol === "https:"
        ? {
            ca: connection.tls.ca,
            rejectUnauthorized: connection.tls.rejectUnauthorized,
            ...(connection.tls.hostnameVerification ? {} : { checkServerIdentity: () => undefined }),
            ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}),
          }
        : {}),
    };
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const location = response.headers.location;
        resolve({
          status: response.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          ...(location ? { location } : {}),
        });
      });
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    request.on("error", reject);
    request.end(init.body);
  });
}

/** Talks to a worker's admin API (`/admin/v3/sinks|sources`). */
export class AdminClient {
  readonly baseUrl: string;
  private readonly connection: AdminConnection;

  constructor(connection: AdminConnection) {
    this.baseUrl = connection.adminUrl.replace(/\/+$/, "");
    this.connection = connection;
  }

  private base(kind: Kind): string {
    return kind === "sink" ? "/admin/v3/sinks" : "/admin/v3/sources";
  }

  static path(kind: Kind, ...segments: string[]): string {
    return `${kind === "sink" ? "/admin/v3/sinks" : "/admin/v3/sources"}/${segments.map(encodeURIComponent).join("/")}`;
  }

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    const init: { method: string; headers: Record<string, string>; body?: string | Buffer } = { method, headers };
    if (body instanceof FormData) {
      // A package upload: the multipart encoding of fetch's Response, sent over node:http(s).
      const encoded = new Response(body);
      headers["content-type"] = encoded.headers.get("content-type") ?? "multipart/form-data";
      init.body = Buffer.from(await encoded.arrayBuffer());
    } else if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let url: URL;
    try {
      url = new URL(`${this.baseUrl}${path}`);
    } catch (error) {
      throw new CliError("USAGE", `The admin URL ${this.baseUrl} is not a URL`, { cause: error });
    }
    let response: { status: number; text: string; location?: string };
    try {
      if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
      else if (this.connection.authentication?.bearerToken) {
        headers.authorization = `Bearer ${await this.connection.authentication.bearerToken()}`;
      }
      response = await exchange(url, init, this.connection);
      // Leader-only operations (rebalance, drain) sent to another worker of a cluster answer 307 to the leader.
      for (let hop = 0; hop < 3 && (response.status === 307 || response.status === 308) && response.location; hop++) {
        url = new URL(response.location, url);
        response = await exchange(url, init, this.connection);
      }
    } catch (error) {
      const failure = error as { code?: string; message?: string };
      if (failure.code === "AUTHENTICATION") {
        throw new CliError("UNAUTHORIZED", `Cannot authenticate: ${failure.message}`, { cause: error });
      }
      throw new CliError(
        "UNREACHABLE",
        `Cannot reach the worker at ${this.baseUrl} (${failure.code ?? failure.message})`,
        {
          hint: "Start one with `pulsar-connect worker`, or point --admin-url (or PULSAR_CONNECT_ADMIN_URL) at a running worker.",
          cause: error,
        },
      );
    }
    const text = response.text;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (response.status >= 200 && response.status < 300) return parsed;
    const answer = (parsed && typeof parsed === "object" ? parsed : {}) as {
      reason?: string;
      issues?: Array<{ path: string; message: string }>;
    };
    const reason = answer.reason ?? (typeof parsed === "string" && parsed ? parsed : `HTTP ${response.status}`);
    const details = (answer.issues ?? []).map((issue) => `  - ${issue.path || "(config)"}: ${issue.message}`);
    switch (response.status) {
      case 400:
        throw new CliError(answer.issues?.length ? "INVALID_CONFIG" : "FAILED", reason, {
          details,
          hint: answer.issues?.length
            ? "Fix the fields listed above; `available-sinks`/`available-sources` list the connectors and the worker's configdefinition endpoint lists their fields."
            : undefined,
        });
      case 401:
        throw new CliError("UNAUTHORIZED", reason, {
          hint: "Pass a token with --token <jwt> (or set PULSAR_CONNECT_TOKEN).",
        });
      case 403:
        throw new CliError("FORBIDDEN", reason, {
          hint: "Use a token whose role has the permission (a superuser role for reload, functions-worker and cluster).",
        });
      case 404:
        throw new CliError("NOT_FOUND", reason, {
          hint: "Check --tenant, --namespace and --name; `list` shows what exists.",
        });
      case 413:
        throw new CliError("FAILED", reason, {
          hint: "Make the config smaller, or the connector package (the worker's maxPackageBytes bounds it).",
        });
      default:
        throw new CliError("FAILED", `The worker answered ${response.status}: ${reason}`);
    }
  }

  /** A call to the worker's functions-worker API: `path` below `/admin/v2/` (`worker/cluster`, `worker-stats/metrics`). */
  worker(method: "GET" | "PUT", path: string): Promise<unknown> {
    return this.request(method, `/admin/v2/${path}`);
  }

  builtins(kind: Kind): Promise<unknown> {
    return this.request("GET", `${this.base(kind)}/${kind === "sink" ? "builtinsinks" : "builtinsources"}`);
  }
}
