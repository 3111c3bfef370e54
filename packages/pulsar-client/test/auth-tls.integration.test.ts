// Token, TLS client-certificate and OAuth2 authentication, auth refresh (AUTH_CHALLENGE) and TLS against the real
// broker. The shared test broker runs
// without either, so this file starts its OWN standalone (own ports and data directory) through tooling/services,
// then restarts that JVM with authentication and a TLS port added to its configuration.
import { execFile, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_PLUGINS, authenticationFromPlugin, PulsarAdmin, PulsarClient, PulsarClientError } from "../src/index.ts";
import { type OAuth2Server, startOAuth2Server } from "./oauth2-server.ts";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../../../tooling/services/src/cli.ts", import.meta.url));
const runDir = mkdtempSync(join(tmpdir(), "pulsar-client-auth-"));
const PORT = 17650 + Math.floor(Math.random() * 200);
const WEB_PORT = PORT + 1000;
const TLS_PORT = PORT + 3000;
const env = {
  ...process.env,
  PC_SERVICES_RUN: runDir,
  PULSAR_BROKER_PORT: String(PORT),
  PULSAR_WEB_PORT: String(WEB_PORT),
  PULSAR_BOOKIE_PORT: String(PORT + 2000),
};
const secret = randomBytes(32);
let brokerPid: number | undefined;
let ca: Buffer;

function jwt(sub: string, expiresInSeconds?: number): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const payload: Record<string, unknown> = { sub };
  if (expiresInSeconds !== undefined) payload.exp = Math.floor(Date.now() / 1000) + expiresInSeconds;
  const unsigned = `${b64({ alg: "HS256" })}.${b64(payload)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
const ADMIN_TOKEN = jwt("admin");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  await run(process.execPath, [CLI, "up", "pulsar"], { env, timeout: 240_000 });
  const pid = (JSON.parse(readFileSync(join(runDir, "pulsar", "state.json"), "utf8")) as { pid: number }).pid;
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .filter((a) => a !== "");
  const environ = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const confFile = argv[argv.indexOf("--config") + 1]!;
  process.kill(pid, "SIGTERM");
  await waitUntil(() => !alive(pid), 30_000, "the plain broker to stop");

  const key = join(runDir, "broker.key");
  const cert = join(runDir, "broker.crt");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  ca = readFileSync(cert);
  // Client certificates: the broker trusts the first (its CN is the role), not the second.
  for (const [name, cn] of [
    ["client", "tls-client"],
    ["stranger", "stranger"],
  ]) {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(runDir, `${name}.key`),
      "-out",
      join(runDir, `${name}.crt`),
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
    ]);
  }
  appendFileSync(
    confFile,
    [
      "",
      "authenticationEnabled=true",
      "authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken,org.apache.pulsar.broker.authentication.AuthenticationProviderTls",
      `tlsTrustCertsFilePath=${join(runDir, "client.crt")}`,
      `tokenSecretKey=data:;base64,${secret.toString("base64")}`,
      "superUserRoles=admin",
      "authenticationRefreshCheckSeconds=1",
      "brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken",
      `brokerClientAuthenticationParameters=token:${ADMIN_TOKEN}`,
      `brokerServicePortTls=${TLS_PORT}`,
      `tlsCertificateFilePath=${cert}`,
      `tlsKeyFilePath=${key}`,
      "",
    ].join("\n"),
  );
  const log = openSync(join(runDir, "auth-broker.log"), "a");
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: environ, detached: true, stdio: ["ignore", log, log] });
  child.unref();
  brokerPid = child.pid;
  const admin = new PulsarAdmin({ serviceUrl: `http://127.0.0.1:${WEB_PORT}`, authToken: ADMIN_TOKEN });
  await waitUntil(
    async () => {
      try {
        return (await admin.getNamespaces("public")).includes("public/default");
      } catch {
        return false;
      }
    },
    180_000,
    "the broker with authentication",
  );
}, 300_000);

afterAll(async () => {
  if (brokerPid !== undefined && alive(brokerPid)) {
    process.kill(brokerPid, "SIGTERM");
    await waitUntil(() => !alive(brokerPid!), 30_000, "broker stop").catch(() => process.kill(brokerPid!, "SIGKILL"));
  }
  await run(process.execPath, [CLI, "down", "pulsar"], { env, timeout: 60_000 }).catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
}, 120_000);

describe("authentication and TLS", () => {
  it("produces and consumes over pulsar+ssl:// with a token", async () => {
    const client = new PulsarClient({
      serviceUrl: `pulsar+ssl://127.0.0.1:${TLS_PORT}`,
      authToken: ADMIN_TOKEN,
      tls: { ca },
    });
    const topic = `persistent://public/default/tls-${Date.now()}`;
    const consumer = await client.subscribe({ topic, subscription: "s" });
    const producer = await client.createProducer({ topic });
    await producer.send({ value: Buffer.from("over tls") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("over tls");
    await client.close();
  });

  it("TLS with an untrusted certificate fails with CONNECTION_FAILED", async () => {
    const client = new PulsarClient({
      serviceUrl: `pulsar+ssl://127.0.0.1:${TLS_PORT}`,
      authToken: ADMIN_TOKEN,
      operationTimeoutMs: 1500,
    });
    await expect(client.createProducer({ topic: "t" })).rejects.toMatchObject({ code: "CONNECTION_FAILED" });
    await client.close();
  });

  it.each([
    ["a token signed with another key", () => jwt("admin").replace(/\.[^.]+$/, ".AAAA")],
    ["an expired token", () => jwt("admin", -60)],
    ["no token", () => undefined],
  ])("%s is refused with AUTHENTICATION", async (_what, token) => {
    const t = token();
    const client = new PulsarClient({
      serviceUrl: `pulsar://127.0.0.1:${PORT}`,
      operationTimeoutMs: 5000,
      ...(t !== undefined ? { authToken: t } : {}),
    });
    const err = await client.createProducer({ topic: "t" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarClientError);
    expect((err as PulsarClientError).code).toBe("AUTHENTICATION");
    await client.close();
  });

  it("an expiring token is refreshed through AUTH_CHALLENGE without dropping the connection", async () => {
    let calls = 0;
    const client = new PulsarClient({
      serviceUrl: `pulsar://127.0.0.1:${PORT}`,
      authToken: async () => {
        calls++;
        // First token expires in 3 s; later ones are long-lived.
        return calls === 1 ? jwt("admin", 3) : jwt("admin", 3600);
      },
    });
    const topic = `persistent://public/default/refresh-${Date.now()}`;
    const consumer = await client.subscribe({ topic, subscription: "s" });
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await producer.send({ value: Buffer.from("before") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("before");
    const opened = client.connectionsOpened;
    await waitUntil(() => calls >= 2, 15_000, "the broker's auth challenge");
    await new Promise((r) => setTimeout(r, 2000));
    await producer.send({ value: Buffer.from("after") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("after");
    expect(client.connectionsOpened).toBe(opened);
    await client.close();
  });
});

describe("authentication plugins as the Java client names them", () => {
  let oauth: OAuth2Server;
  const credentials = join(runDir, "oauth2-credentials.json");
  const wrongCredentials = join(runDir, "oauth2-wrong.json");

  beforeAll(async () => {
    // Tokens live 5 s: the broker (refresh check every second) challenges each connection several times per test.
    oauth = await startOAuth2Server({ secret, clients: { "io-connector": "client-secret" }, lifetimeSeconds: 5 });
    writeFileSync(credentials, JSON.stringify({ client_id: "io-connector", client_secret: "client-secret" }));
    writeFileSync(wrongCredentials, JSON.stringify({ client_id: "io-connector", client_secret: "guess" }));
  });
  afterAll(async () => {
    await oauth?.close();
  });

  const oauthParams = (file: string) =>
    JSON.stringify({
      type: "client_credentials",
      issuerUrl: oauth.issuerUrl,
      privateKey: `file://${file}`,
      audience: "urn:pulsar:standalone",
    });

  it("AuthenticationOAuth2: the issuer's tokens open the connection and are refreshed before they expire", async () => {
    const authentication = authenticationFromPlugin(AUTH_PLUGINS.oauth2, oauthParams(credentials));
    const client = new PulsarClient({
      serviceUrl: `pulsar://127.0.0.1:${PORT}`,
      ...(authentication ? { authentication } : {}),
    });
    const topic = `persistent://public/default/oauth2-${Date.now()}`;
    const consumer = await client.subscribe({ topic, subscription: "s" });
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await producer.send({ value: Buffer.from("first") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("first");
    const opened = client.connectionsOpened;
    const issuedAtStart = oauth.issued.length;
    expect(oauth.issued.at(-1)?.audience).toBe("urn:pulsar:standalone");
    // Two more lifetimes: the broker challenges after each expiry, and the answer must be a newer token.
    await waitUntil(() => oauth.issued.length >= issuedAtStart + 2, 25_000, "two token refreshes");
    // The broker challenged after the first token expired and accepted the answer: the connection is still the same.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let index = 1; index < oauth.issued.length; index += 1) {
      const previous = oauth.issued[index - 1]!;
      // Each replacement was fetched while the token it replaces was still valid.
      expect(oauth.issued[index]!.issuedAt).toBeLessThan(previous.expiresAt);
    }
    await producer.send({ value: Buffer.from("after refreshes") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("after refreshes");
    expect(client.connectionsOpened).toBe(opened);
    await client.close();
  });

  it("AuthenticationOAuth2 with a wrong client secret fails with AUTHENTICATION naming the token endpoint", async () => {
    const authentication = authenticationFromPlugin(AUTH_PLUGINS.oauth2, oauthParams(wrongCredentials))!;
    const client = new PulsarClient({
      serviceUrl: `pulsar://127.0.0.1:${PORT}`,
      authentication,
      operationTimeoutMs: 5000,
    });
    const error = await client.createProducer({ topic: "t" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "AUTHENTICATION", message: expect.stringContaining("invalid_client") });
    await client.close();
  });

  it("AuthenticationOAuth2 tokens authorize admin REST calls", async () => {
    const authentication = authenticationFromPlugin(AUTH_PLUGINS.oauth2, oauthParams(credentials))!;
    const admin = new PulsarAdmin({ serviceUrl: `http://127.0.0.1:${WEB_PORT}`, authentication });
    expect(await admin.getNamespaces("public")).toContain("public/default");
    const anonymous = new PulsarAdmin({ serviceUrl: `http://127.0.0.1:${WEB_PORT}` });
    await expect(anonymous.getNamespaces("public")).rejects.toMatchObject({ httpStatus: 401 });
  });

  it("AuthenticationTls: a trusted client certificate is the role, an untrusted one is refused", async () => {
    const params = (name: string) =>
      `tlsCertFile:${join(runDir, `${name}.crt`)},tlsKeyFile:${join(runDir, `${name}.key`)}`;
    const trusted = new PulsarClient({
      serviceUrl: `pulsar+ssl://127.0.0.1:${TLS_PORT}`,
      authentication: authenticationFromPlugin(AUTH_PLUGINS.tls, params("client"))!,
      tls: { ca },
    });
    const topic = `persistent://public/default/mtls-${Date.now()}`;
    const consumer = await trusted.subscribe({ topic, subscription: "s" });
    const producer = await trusted.createProducer({ topic });
    await producer.send({ value: Buffer.from("by certificate") });
    expect((await consumer.receive(10_000)).data.toString()).toBe("by certificate");
    await trusted.close();

    const stranger = new PulsarClient({
      serviceUrl: `pulsar+ssl://127.0.0.1:${TLS_PORT}`,
      authentication: authenticationFromPlugin(AUTH_PLUGINS.tls, params("stranger"))!,
      tls: { ca },
      operationTimeoutMs: 5000,
    });
    const error = await stranger.createProducer({ topic }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PulsarClientError);
    expect(["AUTHENTICATION", "CONNECTION_FAILED"]).toContain((error as PulsarClientError).code);
    await stranger.close();
  });

  it("hostnameVerification: false accepts a trusted certificate issued for another name, true refuses it", async () => {
    const topic = `persistent://public/default/hostname-${Date.now()}`;
    const lenient = new PulsarClient({
      serviceUrl: `pulsar+ssl://127.0.0.1:${TLS_PORT}`,
      authToken: ADMIN_TOKEN,
      tls: { ca, servername: "elsewhere.invalid", hostnameVerification: false },
    });
    await (await lenient.createProducer({ topic })).send({ value: Buffer.from("x") });
    await lenient.close();
    const strict = new PulsarClient({
      serviceUrl: `pulsar+ssl://127.0.0.1:${TLS_PORT}`,
      authToken: ADMIN_TOKEN,
      tls: { ca, servername: "elsewhere.invalid", hostnameVerification: true },
      operationTimeoutMs: 1500,
    });
    await expect(strict.createProducer({ topic })).rejects.toMatchObject({
      code: "CONNECTION_FAILED",
      message: expect.stringMatching(/altnames|Hostname/i),
    });
    await strict.close();
  });

  it("AuthenticationToken from a file:// path", async () => {
    const tokenFile = join(runDir, "admin.token");
    writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`);
    const client = new PulsarClient({
      serviceUrl: `pulsar://127.0.0.1:${PORT}`,
      authentication: authenticationFromPlugin(AUTH_PLUGINS.token, `file://${tokenFile}`)!,
    });
    const producer = await client.createProducer({ topic: `persistent://public/default/token-file-${Date.now()}` });
    await producer.send({ value: Buffer.from("x") });
    await client.close();
  });
});
