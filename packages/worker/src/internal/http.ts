import type { IncomingMessage, ServerResponse } from "node:http";
import { WorkerError } from "../errors.ts";

/** Reads a request body, refusing more than `limit` bytes with PAYLOAD_TOO_LARGE. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): WorkerError {
  return new WorkerError("PAYLOAD_TOO_LARGE", `Request body is larger than the limit of ${limit} bytes`);
}

/** Parses JSON without echoing the input in the error (it may hold secrets). */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new WorkerError(
      "BAD_REQUEST",
      `Malformed JSON in ${what}${position ? ` near position ${position}` : ""}: send a valid JSON object`,
    );
  }
}

/** What a create/update/validate request carries. */
export interface Submission {
  config: Record<string, unknown>;
  /** The `url` part (package URL such as `builtin://name`). */
  url?: string;
  /** The `updateOptions` part of an update (upstream UpdateOptions). */
  updateOptions?: Record<string, unknown>;
  /** The `data` part: an uploaded connector package (npm tarball). */
  packageData?: Uint8Array;
  /**
   * Cluster mode: the integrity of the package a `file://` archive names, read by the worker that received the request
   * and kept in the cluster's package topic (that worker's {@link SHARED_PACKAGE_HEADER}).
   */
  sharedPackage?: string;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new WorkerError("BAD_REQUEST", `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads a create/update body: multipart/form-data with a `sinkConfig`/`sourceConfig` part and an optional
 * `url` part (as Pulsar's admin client sends it), or a plain JSON config (optionally `{ sinkConfig, url }`).
 */
export async function readSubmission(
  request: IncomingMessage,
  body: Buffer,
  kind: "sink" | "source",
): Promise<Submission> {
  const part = `${kind}Config`;
  const contentType = String(request.headers["content-type"] ?? "");
  if (contentType.toLowerCase().startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await new Request("http://worker.local/", {
        method: "POST",
        headers: { "content-type": contentType },
        body: new Uint8Array(body),
      }).formData();
    } catch {
      throw new WorkerError("BAD_REQUEST", "Malformed multipart/form-data body");
    }
    const raw = form.get(part);
    const text = raw === null ? "{}" : typeof raw === "string" ? raw : await raw.text();
    const submission: Submission = { config: asObject(parseJson(text, part), part) };
    const url = form.get("url");
    if (typeof url === "string" && url !== "") submission.url = url;
    const data = form.get("data");
    if (data !== null) {
      if (submission.url !== undefined) {
        throw new WorkerError("BAD_REQUEST", "Send either a data part (the package) or a url part, not both");
      }
      submission.packageData =
        typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(await data.arrayBuffer());
    }
    const options = form.get("updateOptions");
    if (options !== null) {
      const text = typeof options === "string" ? options : await options.text();
      submission.updateOptions = asObject(parseJson(text, "updateOptions"), "updateOptions");
    }
    return submission;
  }
  const text = body.toString("utf8").trim();
  if (text === "") throw new WorkerError("BAD_REQUEST", `Missing ${part}: send it as JSON or as a multipart part`);
  const parsed = asObject(parseJson(text, "request body"), "request body");
  if (part in parsed) {
    const inner = typeof parsed[part] === "string" ? parseJson(parsed[part] as string, part) : parsed[part];
    const submission: Submission = { config: asObject(inner, part) };
    if (typeof parsed.url === "string" && parsed.url !== "") submission.url = parsed.url;
    if (parsed.updateOptions !== undefined && parsed.updateOptions !== null) {
      submission.updateOptions = asObject(parsed.updateOptions, "updateOptions");
    }
    return submission;
  }
  return { config: parsed };
}

/** Sends a JSON answer. */
export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** Sends an empty success answer. */
export function sendNoContent(response: ServerResponse): void {
  response.writeHead(204);
  response.end();
}

/** Sends plain text. */
export function sendText(response: ServerResponse, status: number, text: string, contentType = "text/plain"): void {
  response.writeHead(status, {
    "content-type": `${contentType}; charset=utf-8`,
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}
