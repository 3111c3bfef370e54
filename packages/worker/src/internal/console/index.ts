import type { IncomingMessage, ServerResponse } from "node:http";
import { ConsoleApi, type ConsoleHost } from "./api.ts";
import { ConsoleFiles } from "./static.ts";

export type { ConsoleConnector, ConsoleHost } from "./api.ts";

/** The web console of a worker: its JSON API under `/console/api/v1/` and its static files everywhere else. */
export class WorkerConsole {
  private readonly api: ConsoleApi;
  private readonly files: ConsoleFiles;

  constructor(host: ConsoleHost, dir?: string) {
    this.api = new ConsoleApi(host);
    this.files = new ConsoleFiles(dir);
  }

  /** Ends the console's event streams and its sampling; called first when the worker shuts down. */
  close(): void {
    this.api.close();
  }

  /** Answers a request outside `/admin/`, `/health` and `/metrics`. */
  handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    if (url.pathname.startsWith("/console/api/v1/")) return this.api.handle(request, response, url);
    return this.files.serve(request, response, url.pathname);
  }
}
