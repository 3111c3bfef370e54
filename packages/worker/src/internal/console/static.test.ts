import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsoleFiles } from "./static.ts";

let base: string;
let root: string;
let server: Server;
let url: string;
let files: ConsoleFiles;

/** A raw request: fetch would normalise `..` and `%2e%2e` away before sending. */
function get(
  path: string,
  method = "GET",
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = httpRequest(`${url}${path}`, { method, headers, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", fail);
    req.end();
  });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "console-static-"));
  root = join(base, "console");
  mkdirSync(join(root, "assets"), { recursive: true });
  writeFileSync(join(root, "index.html"), "<!doctype html><title>console</title>");
  writeFileSync(join(root, "assets", "index-abc123.js"), `console.log(${JSON.stringify("x".repeat(2000))});`);
  writeFileSync(join(root, "assets", "index-abc123.css"), "body{}");
  writeFileSync(join(base, "secret.txt"), "outside");
  symlinkSync(join(base, "secret.txt"), join(root, "assets", "link.js"));
  files = new ConsoleFiles(root);
  server = createServer((req, res) => {
    const pathname = (req.url ?? "/").split("?")[0] as string;
    void files.serve(req, res, pathname);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  rmSync(base, { recursive: true, force: true });
});

describe("console static files", () => {
  it("serves index.html at / with no-cache and a content security policy", async () => {
    const answer = await get("/");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(answer.headers["cache-control"]).toBe("no-cache");
    expect(answer.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(answer.body.toString()).toContain("<title>console</title>");
  });

  it("caches hashed assets for a year, with their content type, gzipped on request", async () => {
    const plain = await get("/assets/index-abc123.js");
    expect(plain.status).toBe(200);
    expect(plain.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(plain.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    const zipped = await get("/assets/index-abc123.js", "GET", { "accept-encoding": "gzip, br" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.body.length).toBeLessThan(plain.body.length);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect((await get("/assets/index-abc123.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
  });

  it("answers console routes with index.html and missing assets with 404", async () => {
    const route = await get("/connectors/sink/public/default/orders");
    expect(route.status).toBe(200);
    expect(route.headers["cache-control"]).toBe("no-cache");
    expect(route.body.toString()).toContain("<title>console</title>");
    expect((await get("/assets/missing-123.js")).status).toBe(404);
    expect((await get("/favicon.png")).status).toBe(404);
  });

  it("never serves a file outside its folder", async () => {
    for (const path of [
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/..%5csecret.txt",
      "/assets/link.js",
      "/%00index.html",
      "/%E0%A4%A",
    ]) {
      const answer = await get(path);
      expect(answer.body.toString(), path).not.toContain("outside");
      expect(answer.status, path).toBe(404);
    }
  });

  it("answers HEAD without a body and refuses other methods", async () => {
    const head = await get("/assets/index-abc123.js", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers["content-length"])).toBeGreaterThan(0);
    const post = await get("/", "POST");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
  });

  it("reads away a request body, so that the next request on a kept-alive connection is served", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const call = (method: string, path: string, body?: string) =>
      new Promise<number>((done, fail) => {
        // No content-length: Node's client then frames the body as it does for each method (chunked or not).
        const req = httpRequest(`${url}${path}`, { method, agent }, (res) => {
          res.resume();
          res.on("end", () => done(res.statusCode ?? 0));
        });
        req.on("error", fail);
        req.end(body);
      });
    try {
      for (const method of ["OPTIONS", "POST", "DELETE", "GET"]) {
        await call(method, "/some/route", "x".repeat(300)).catch(() => 0);
        expect(await call("GET", "/assets/index-abc123.css"), method).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });

  it("says the console is not built when its folder has no index.html", async () => {
    const empty = new ConsoleFiles(join(base, "nothing-here"));
    const other = createServer((req, res) => void empty.serve(req, res, req.url ?? "/"));
    await new Promise<void>((done) => other.listen(0, "127.0.0.1", done));
    try {
      const answer = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      expect(answer.status).toBe(404);
      expect(await answer.text()).toContain("The console is not built");
    } finally {
      await new Promise<void>((done) => other.close(() => done()));
    }
  });
});
