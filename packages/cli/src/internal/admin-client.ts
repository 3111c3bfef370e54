import { CliError } from "../errors.ts";

type Kind = "sink" | "source";

/** Talks to a worker's admin API (`/admin/v3/sinks|sources`). */
export class AdminClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = token;
  }

  private base(kind: Kind): string {
    return kind === "sink" ? "/admin/v3/sinks" : "/admin/v3/sources";
  }

  static path(kind: Kind, ...segments: string[]): string {
    return `${kind === "sink" ? "/admin/v3/sinks" : "/admin/v3/sources"}/${segments.map(encodeURIComponent).join("/")}`;
  }

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        "UNREACHABLE",
        `Cannot reach the worker at ${this.baseUrl} (${cause?.code ?? cause?.message ?? (error as Error).message})`,
        {
          hint: "Start one with `pulsar-connect worker`, or point --admin-url (or PULSAR_CONNECT_ADMIN_URL) at a running worker.",
          cause: error,
        },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (response.ok) return parsed;
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
          hint: "Use a token whose role has the permission (a superuser role for reload).",
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

  builtins(kind: Kind): Promise<unknown> {
    return this.request("GET", `${this.base(kind)}/${kind === "sink" ? "builtinsinks" : "builtinsources"}`);
  }
}
