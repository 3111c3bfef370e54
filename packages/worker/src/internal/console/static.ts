import { existsSync } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

/** Types worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map"]);

/**
 * The folder the console's build writes to: `console/` at the root of the worker package, two levels above this
 * file both in the sources (`src/internal/console`) and in the unbundled build (`dist/internal/console`).
 */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL("../../../console/", import.meta.url));
}

interface CachedFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  mtimeMs: number;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pulsar-connect worker</title></head>
<body><h1>The console is not built</h1>
<p>This worker package was built without its web console. The admin API is available under <code>/admin/v3/</code>;
to get the console, build it with <code>pnpm --filter @pulsar-connect/console build</code> and restart the worker.</p>
</body></html>
`;

/**
 * Serves the console's static files: hashed assets under `/assets/` are cached for a year, everything else is
 * revalidated; a path that is not a file gets `index.html` (the console routes in the browser). Files are read once
 * and kept in memory with their gzip form.
 */
export class ConsoleFiles {
  private readonly root: string;
  private readonly cache = new Map<string, CachedFile>();
  private realRoot: string | undefined;

  constructor(root: string = defaultConsoleDir()) {
    this.root = resolve(root);
  }

  /** Whether the console was built into the folder. */
  get built(): boolean {
    return existsSync(join(this.root, "index.html"));
  }

  async serve(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
    const method = request.method ?? "GET";
    await discardBody(request, response);
    if (method !== "GET" && method !== "HEAD") {
      send(
        request,
        response,
        405,
        { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
        Buffer.from("Method not allowed\n"),
      );
      return;
    }
    if (!this.built) {
      send(
        request,
        response,
        404,
        { "content-type": CONTENT_TYPES[".html"] as string, "cache-control": "no-cache" },
        Buffer.from(NOT_BUILT),
      );
      return;
    }
    const file = await this.lookup(pathname);
    if (file === "not-found") {
      send(request, response, 404, { "content-type": "text/plain; charset=utf-8" }, Buffer.from("Not found\n"));
      return;
    }
    const found = file ?? (await this.read(join(this.root, "index.html")));
    if (!found) {
      send(request, response, 404, { "content-type": "text/plain; charset=utf-8" }, Buffer.from("Not found\n"));
      return;
    }
    const immutable = file !== undefined && pathname.startsWith("/assets/");
    const headers: Record<string, string> = {
      "content-type": found.type,
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
      vary: "accept-encoding",
    };
    if (found.type.startsWith("text/html")) {
      headers["content-security-policy"] =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
      headers["x-frame-options"] = "DENY";
      headers["referrer-policy"] = "no-referrer";
    }
    const gzip = found.gzip !== undefined && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    if (gzip) headers["content-encoding"] = "gzip";
    send(request, response, 200, headers, gzip ? (found.gzip as Buffer) : found.body);
  }

  /**
   * The file a path names, undefined when the index should answer (a console route), or "not-found" for a missing
   * asset or a path that leaves the folder.
   */
  private async lookup(pathname: string): Promise<CachedFile | undefined | "not-found"> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return "not-found";
    }
    if (decoded.includes("\0") || decoded.includes("\\")) return "not-found";
    const relative = decoded.replace(/^\/+/, "");
    const candidate = resolve(this.root, relative);
    if (candidate !== this.root && !candidate.startsWith(this.root + sep)) return "not-found";
    const file = relative === "" ? undefined : await this.read(candidate);
    if (file) return file;
    // A missing file with an extension is a missing asset, not a console route.
    if (decoded.startsWith("/assets/") || extname(decoded) !== "") return "not-found";
    return undefined;
  }

  private async read(path: string): Promise<CachedFile | undefined> {
    let info: Awaited<ReturnType<typeof stat>>;
    let real: string;
    try {
      real = await realpath(path);
      info = await stat(real);
    } catch {
      return undefined;
    }
    // A symbolic link must not lead out of the folder either.
    this.realRoot ??= await realpath(this.root);
    if (!real.startsWith(this.realRoot + sep) || !info.isFile()) return undefined;
    const cached = this.cache.get(real);
    if (cached && cached.mtimeMs === info.mtimeMs) return cached;
    const body = await readFile(real);
    const extension = extname(real).toLowerCase();
    const entry: CachedFile = {
      body,
      gzip: COMPRESSIBLE.has(extension) && body.length > 256 ? gzipSync(body, { level: 9 }) : undefined,
      type: CONTENT_TYPES[extension] ?? "application/octet-stream",
      mtimeMs: info.mtimeMs,
    };
    this.cache.set(real, entry);
    return entry;
  }
}

/** Largest request body read and thrown away; beyond it the connection is closed after the answer. */
const MAX_DISCARDED_BODY = 64 * 1024;

/**
 * Reads and drops a request body (no file request needs one), so that its bytes are not parsed as the next request
 * of a kept-alive connection.
 */
async function discardBody(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.headers["transfer-encoding"] === undefined && Number(request.headers["content-length"] ?? 0) <= 0) return;
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_DISCARDED_BODY) {
      response.setHeader("connection", "close");
      request.pause();
      return;
    }
  }
}

function send(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Buffer,
): void {
  response.writeHead(status, { ...headers, "content-length": String(body.length) });
  response.end(request.method === "HEAD" ? undefined : body);
}
