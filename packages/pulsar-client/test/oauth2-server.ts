// A small OAuth2 authorization server for tests: OpenID metadata and a client-credentials token endpoint that
// issues HS256 JWTs (subject = client id), which a broker with `tokenSecretKey` set to the same secret verifies.
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface IssuedToken {
  token: string;
  audience: string | undefined;
  scope: string | undefined;
  issuedAt: number;
  expiresAt: number;
}

export interface OAuth2Server {
  issuerUrl: string;
  /** Every token issued, oldest first. */
  issued: IssuedToken[];
  close(): Promise<void>;
}

export function signHs256(secret: Buffer, claims: Record<string, unknown>): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

/** Starts the server on a free loopback port; tokens live `lifetimeSeconds`. */
export async function startOAuth2Server(options: {
  secret: Buffer;
  clients: Record<string, string>;
  lifetimeSeconds: number;
}): Promise<OAuth2Server> {
  const issued: IssuedToken[] = [];
  let issuerUrl = "";
  const server: Server = createServer((request, response) => {
    const answer = (status: number, body: object) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.method === "GET" && request.url === "/.well-known/openid-configuration") {
      answer(200, { issuer: issuerUrl, token_endpoint: `${issuerUrl}/oauth/token` });
      return;
    }
    if (request.method !== "POST" || request.url !== "/oauth/token") {
      answer(404, { error: "not_found" });
      return;
    }
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      const form = new URLSearchParams(body);
      if (form.get("grant_type") !== "client_credentials") {
        answer(400, { error: "unsupported_grant_type" });
        return;
      }
      const clientId = form.get("client_id") ?? "";
      if (options.clients[clientId] === undefined || options.clients[clientId] !== form.get("client_secret")) {
        answer(401, { error: "invalid_client", error_description: "unknown client or wrong secret" });
        return;
      }
      // Rounded up: the token is valid for at least the lifetime announced in expires_in.
      const now = Math.ceil(Date.now() / 1000);
      const audience = form.get("audience") ?? undefined;
      const scope = form.get("scope") ?? undefined;
      const claims: Record<string, unknown> = { sub: clientId, iat: now, exp: now + options.lifetimeSeconds };
      if (audience) claims.aud = audience;
      const token = signHs256(options.secret, claims);
      issued.push({ token, audience, scope, issuedAt: Date.now(), expiresAt: (now + options.lifetimeSeconds) * 1000 });
      answer(200, { access_token: token, token_type: "Bearer", expires_in: options.lifetimeSeconds });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuerUrl,
    issued,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
