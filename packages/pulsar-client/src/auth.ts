import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PulsarClientError } from "./errors.ts";

/**
 * How a client proves who it is, to the broker (binary protocol) and to the admin REST API. The method names and
 * the data are those of Pulsar's Java client, so a broker configured for it accepts this client unchanged.
 */
export interface Authentication {
  /** The broker's name of the method: `token` (token and OAuth2), `tls` (client certificate). */
  readonly method: string;
  /** Credentials sent on connect and in answer to each auth challenge (a refresh). */
  authData(): Promise<Buffer>;
  /** A bearer token for HTTP calls; absent for methods that have none (TLS). */
  bearerToken?(): Promise<string>;
  /** The client certificate and key presented in the TLS handshake (AuthenticationTls). */
  readonly tlsCertificate?: { cert: Buffer; key: Buffer };
}

function readCredentialFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new PulsarClientError("INVALID_CONFIG", `${what}: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** `file:///x`, `file:/x` or a plain path, as the Java client accepts them. */
function filePath(location: string): string {
  if (location.startsWith("file://")) return fileURLToPath(location);
  if (location.startsWith("file:")) return location.slice("file:".length);
  return location;
}

/** Token authentication (`AuthenticationToken`): a fixed token, or a function called on every (re)authentication. */
export function tokenAuthentication(token: string | (() => string | Promise<string>)): Authentication {
  const current = async () => (typeof token === "string" ? token : await token());
  return {
    method: "token",
    authData: async () => Buffer.from(await current(), "utf8"),
    bearerToken: current,
  };
}

/**
 * Token authentication with the token in a file, read again on every (re)authentication so that a rotated file
 * (a Kubernetes-mounted secret) is picked up without a restart.
 */
export function tokenFileAuthentication(path: string): Authentication {
  readCredentialFile(path, "token file");
  return tokenAuthentication(() => readCredentialFile(path, "token file").toString("utf8").trim());
}

/** TLS client-certificate authentication (`AuthenticationTls`): PEM certificate and key files. */
export function tlsAuthentication(options: { certFile: string; keyFile: string }): Authentication {
  return {
    method: "tls",
    authData: async () => Buffer.alloc(0),
    tlsCertificate: {
      cert: readCredentialFile(options.certFile, "tlsCertFile"),
      key: readCredentialFile(options.keyFile, "tlsKeyFile"),
    },
  };
}

/** Options of {@link oauth2ClientCredentials}, named as `AuthenticationOAuth2`'s parameters. */
export interface OAuth2ClientCredentialsOptions {
  /** The authorization server; its `/.well-known/openid-configuration` names the token endpoint. */
  issuerUrl: string;
  /** `file:///path` or `data:application/json;base64,...`: a JSON document with `client_id` and `client_secret`. */
  privateKey: string;
  audience?: string;
  scope?: string;
  /** Share of a token's lifetime after which a new one is fetched (0.9: with a tenth of it left). */
  refreshAt?: number;
  /** Timeout of each call to the authorization server (10000 ms). */
  timeoutMs?: number;
}

interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

function readClientCredentials(privateKey: string): ClientCredentials {
  let text: string;
  if (privateKey.startsWith("data:")) {
    const comma = privateKey.indexOf(",");
    const header = privateKey.slice(0, comma);
    const body = privateKey.slice(comma + 1);
    text = header.endsWith(";base64") ? Buffer.from(body, "base64").toString("utf8") : decodeURIComponent(body);
  } else {
    text = readCredentialFile(filePath(privateKey), "OAuth2 privateKey").toString("utf8");
  }
  let parsed: { client_id?: unknown; client_secret?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    throw new PulsarClientError("INVALID_CONFIG", "OAuth2 privateKey: the credentials file is not valid JSON", {
      cause: error,
    });
  }
  if (typeof parsed.client_id !== "string" || typeof parsed.client_secret !== "string") {
    throw new PulsarClientError(
      "INVALID_CONFIG",
      "OAuth2 privateKey: the credentials file must hold client_id and client_secret strings",
    );
  }
  return { clientId: parsed.client_id, clientSecret: parsed.client_secret };
}

async function jsonFrom(url: string, init: RequestInit, what: string): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new PulsarClientError("AUTHENTICATION", `${what}: ${url} is unreachable: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
    });
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // reported below with the status
  }
  if (!response.ok) {
    const reason = [body.error, body.error_description].filter((part) => typeof part === "string").join(": ");
    throw new PulsarClientError(
      "AUTHENTICATION",
      `${what}: ${url} answered ${response.status}${reason ? ` (${reason})` : ""}`,
      { retryable: response.status >= 500 },
    );
  }
  return body;
}

/**
 * OAuth2 client credentials (`AuthenticationOAuth2`): exchanges the client id and secret for an access token at
 * the issuer's token endpoint and sends it as a `token`. The token is cached and, while it is in use, replaced once
 * `refreshAt` of its lifetime has passed: the answer to the broker's auth challenge (sent when the old one expires)
 * and every new connection get a token that is still valid, without waiting for the issuer.
 */
export function oauth2ClientCredentials(options: OAuth2ClientCredentialsOptions): Authentication {
  let issuer: URL;
  try {
    issuer = new URL(options.issuerUrl);
  } catch (error) {
    throw new PulsarClientError("INVALID_CONFIG", `OAuth2 issuerUrl '${options.issuerUrl}' is not a URL`, {
      cause: error,
    });
  }
  const credentials = readClientCredentials(options.privateKey);
  const refreshAt = options.refreshAt ?? 0.9;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let tokenEndpoint: string | undefined;
  let cached: { token: string; refreshAfter: number } | undefined;
  let inFlight: Promise<string> | undefined;
  // Prefetching continues only while the tokens are used: an idle or closed client stops asking.
  let usedSinceFetch = false;
  let prefetchTimer: NodeJS.Timeout | undefined;

  const schedulePrefetch = (delayMs: number) => {
    clearTimeout(prefetchTimer);
    if (!Number.isFinite(delayMs)) return;
    prefetchTimer = setTimeout(
      () => {
        if (!usedSinceFetch) return;
        inFlight ??= fetchToken(true).finally(() => {
          inFlight = undefined;
        });
        // A failed prefetch is retried by the next use, which reports the error.
        inFlight.catch(() => undefined);
      },
      Math.max(delayMs, 0),
    );
    prefetchTimer.unref();
  };

  /** A prefetched token counts as unused until someone asks for it; one fetched on demand is in use. */
  const fetchToken = async (prefetch: boolean): Promise<string> => {
    if (!tokenEndpoint) {
      const metadataUrl = `${issuer.href.replace(/\/+$/, "")}/.well-known/openid-configuration`;
      const metadata = await jsonFrom(metadataUrl, { signal: AbortSignal.timeout(timeoutMs) }, "OAuth2 metadata");
      if (typeof metadata.token_endpoint !== "string") {
        throw new PulsarClientError("AUTHENTICATION", `OAuth2 metadata at ${metadataUrl} has no token_endpoint`);
      }
      tokenEndpoint = metadata.token_endpoint;
    }
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
    });
    if (options.audience) form.set("audience", options.audience);
    if (options.scope) form.set("scope", options.scope);
    const requestedAt = Date.now();
    const answer = await jsonFrom(
      tokenEndpoint,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      },
      "OAuth2 token request",
    );
    if (typeof answer.access_token !== "string" || answer.access_token === "") {
      throw new PulsarClientError("AUTHENTICATION", `OAuth2 token endpoint ${tokenEndpoint} returned no access_token`);
    }
    const lifetimeMs = typeof answer.expires_in === "number" ? answer.expires_in * 1000 : Number.POSITIVE_INFINITY;
    cached = { token: answer.access_token, refreshAfter: requestedAt + lifetimeMs * refreshAt };
    usedSinceFetch = !prefetch;
    schedulePrefetch(lifetimeMs * refreshAt);
    return answer.access_token;
  };

  const token = (): Promise<string> => {
    usedSinceFetch = true;
    if (cached && Date.now() < cached.refreshAfter) return Promise.resolve(cached.token);
    // Connections authenticating at the same time share one request.
    inFlight ??= fetchToken(false).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  return { method: "token", authData: async () => Buffer.from(await token(), "utf8"), bearerToken: token };
}
