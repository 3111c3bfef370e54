import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type OAuth2Server, startOAuth2Server } from "../test/oauth2-server.ts";
import { oauth2ClientCredentials } from "./auth.ts";
import { AUTH_PLUGINS, authenticationFromPlugin } from "./auth-plugin.ts";

const dir = mkdtempSync(join(tmpdir(), "pulsar-client-auth-unit-"));
const secret = randomBytes(32);
let server: OAuth2Server;
const credentials = join(dir, "credentials.json");

beforeAll(async () => {
  server = await startOAuth2Server({ secret, clients: { "connector-a": "s3cret" }, lifetimeSeconds: 100 });
  writeFileSync(credentials, JSON.stringify({ client_id: "connector-a", client_secret: "s3cret" }));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("OAuth2 client credentials", () => {
  it("fetches a token with audience and scope, reuses it, and replaces it before it expires", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const auth = oauth2ClientCredentials({
      issuerUrl: server.issuerUrl,
      privateKey: pathToFileURL(credentials).href,
      audience: "urn:pulsar:test",
      scope: "produce consume",
    });
    const before = server.issued.length;
    const [first, concurrent] = await Promise.all([auth.authData(), auth.authData()]);
    expect(first.toString()).toBe(server.issued.at(-1)?.token);
    expect(concurrent.equals(first)).toBe(true);
    expect(server.issued.length).toBe(before + 1);
    expect(server.issued.at(-1)).toMatchObject({ audience: "urn:pulsar:test", scope: "produce consume" });
    expect(auth.method).toBe("token");

    vi.advanceTimersByTime(80_000);
    expect((await auth.authData()).equals(first)).toBe(true);
    expect(server.issued.length).toBe(before + 1);

    // 91 s into a 100 s token: still valid, but past the refresh point.
    vi.advanceTimersByTime(11_000);
    const second = await auth.authData();
    expect(second.equals(first)).toBe(false);
    expect(server.issued.length).toBe(before + 2);
    expect(Date.now()).toBeLessThan(server.issued[before]?.expiresAt ?? 0);
    expect(await auth.bearerToken?.()).toBe(second.toString());
  });

  it("prefetches the next token while tokens are in use, and stops once they are not", async () => {
    const shortLived = await startOAuth2Server({ secret, clients: { "connector-a": "s3cret" }, lifetimeSeconds: 1 });
    try {
      const auth = oauth2ClientCredentials({ issuerUrl: shortLived.issuerUrl, privateKey: `file://${credentials}` });
      await auth.authData();
      // Fetched at 90% of the first token's lifetime without anyone asking: it is valid when the broker challenges.
      await expect.poll(() => shortLived.issued.length, { timeout: 5_000 }).toBe(2);
      expect(shortLived.issued[1]!.issuedAt).toBeLessThan(shortLived.issued[0]!.expiresAt);
      // Nobody used the second token: no third one.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(shortLived.issued.length).toBe(2);
      // The idle client's token is stale by now: the next use fetches a fresh one.
      expect((await auth.authData()).toString()).toBe(shortLived.issued[2]?.token);
    } finally {
      await shortLived.close();
    }
  });

  it("reads the credentials from a data: URL, as the Java client accepts them", async () => {
    const data = `data:application/json;base64,${Buffer.from(
      JSON.stringify({ client_id: "connector-a", client_secret: "s3cret" }),
    ).toString("base64")}`;
    const auth = oauth2ClientCredentials({ issuerUrl: server.issuerUrl, privateKey: data });
    expect((await auth.authData()).toString()).toBe(server.issued.at(-1)?.token);
  });

  it("a wrong secret fails with AUTHENTICATION and the server's reason", async () => {
    const wrong = join(dir, "wrong.json");
    writeFileSync(wrong, JSON.stringify({ client_id: "connector-a", client_secret: "nope" }));
    const auth = oauth2ClientCredentials({ issuerUrl: server.issuerUrl, privateKey: `file://${wrong}` });
    await expect(auth.authData()).rejects.toMatchObject({
      code: "AUTHENTICATION",
      message: expect.stringContaining("401 (invalid_client: unknown client or wrong secret)"),
    });
  });

  it("an unreachable issuer is a retryable AUTHENTICATION error", async () => {
    const auth = oauth2ClientCredentials({ issuerUrl: "http://127.0.0.1:1", privateKey: `file://${credentials}` });
    await expect(auth.authData()).rejects.toMatchObject({ code: "AUTHENTICATION", retryable: true });
  });

  it("refuses a credentials file without client_id/client_secret before any request", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ clientId: "x" }));
    expect(() => oauth2ClientCredentials({ issuerUrl: server.issuerUrl, privateKey: `file://${bad}` })).toThrow(
      /client_id and client_secret/,
    );
  });
});

describe("authenticationFromPlugin", () => {
  it("maps the Java plugin class names and their parameter forms", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "from-file\n");
    expect((await authenticationFromPlugin(AUTH_PLUGINS.token, "token:abc")?.authData())?.toString()).toBe("abc");
    expect((await authenticationFromPlugin(AUTH_PLUGINS.token, "raw-jwt")?.authData())?.toString()).toBe("raw-jwt");
    const fromFile = authenticationFromPlugin("AuthenticationToken", `file://${tokenFile}`);
    expect((await fromFile?.authData())?.toString()).toBe("from-file");
    // The file is read again on each authentication: a rotated secret needs no restart.
    writeFileSync(tokenFile, "rotated");
    expect(await fromFile?.bearerToken?.()).toBe("rotated");
    expect((await authenticationFromPlugin(AUTH_PLUGINS.token, `file:${tokenFile}`)?.authData())?.toString()).toBe(
      "rotated",
    );

    const cert = join(dir, "c.pem");
    const key = join(dir, "k.pem");
    writeFileSync(cert, "CERT");
    writeFileSync(key, "KEY");
    for (const params of [
      `tlsCertFile:${cert},tlsKeyFile:${key}`,
      JSON.stringify({ tlsCertFile: cert, tlsKeyFile: key }),
    ]) {
      const tls = authenticationFromPlugin(AUTH_PLUGINS.tls, params);
      expect(tls?.method).toBe("tls");
      expect(tls?.tlsCertificate?.cert.toString()).toBe("CERT");
      expect(tls?.tlsCertificate?.key.toString()).toBe("KEY");
      expect(tls?.bearerToken).toBeUndefined();
    }

    const oauth = authenticationFromPlugin(
      AUTH_PLUGINS.oauth2,
      JSON.stringify({ type: "client_credentials", issuerUrl: server.issuerUrl, privateKey: `file://${credentials}` }),
    );
    expect((await oauth?.authData())?.toString()).toBe(server.issued.at(-1)?.token);
    expect(authenticationFromPlugin("", "")).toBeUndefined();
    expect(authenticationFromPlugin(undefined, undefined)).toBeUndefined();
  });

  it.each([
    [
      "org.apache.pulsar.client.impl.auth.AuthenticationBasic",
      "userId:a,password:b",
      /AuthenticationBasic is not supported/,
    ],
    ["org.apache.pulsar.client.impl.auth.AuthenticationSasl", "{}", /AuthenticationSasl is not supported/],
    ["", "token:abc", /authPlugin is not/],
    [AUTH_PLUGINS.token, "", /a token is required/],
    [AUTH_PLUGINS.tls, "tlsCertFile:/nope.pem,tlsKeyFile:/nope.key", /tlsCertFile: cannot read \/nope.pem/],
    [AUTH_PLUGINS.tls, "tlsCertFile:/a", /'tlsKeyFile' is required/],
    [AUTH_PLUGINS.tls, "tlsCertFile:/a,tlsKeyFile:/b,tlsPassword:x", /'tlsPassword' not supported/],
    [AUTH_PLUGINS.oauth2, "issuerUrl:http://x", /must be a JSON object/],
    [AUTH_PLUGINS.oauth2, '{"issuerUrl":"http://x"}', /'privateKey' is required/],
    [AUTH_PLUGINS.oauth2, '{"issuerUrl":"http://x","privateKey":"file:///x","type":"jwt_bearer"}', /type 'jwt_bearer'/],
    [
      AUTH_PLUGINS.oauth2,
      '{"issuerUrl":"http://x","privateKey":"file:///x","tokenUrl":"y"}',
      /'tokenUrl' not supported/,
    ],
  ])("refuses %s with %s", (plugin, params, message) => {
    expect(() => authenticationFromPlugin(plugin, params)).toThrow(message);
  });
});
