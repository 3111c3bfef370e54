// Token authentication, auth refresh (AUTH_CHALLENGE) and TLS against the real broker. The shared test broker runs
// without either, so this file starts its OWN standalone (own ports and data directory) through tooling/services,
// then restarts that JVM with authentication and a TLS port added to its configuration.
import { execFile, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulsarAdmin, PulsarClient, PulsarClientError } from "../src/index.ts";

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
  appendFileSync(
    confFile,
    [
      "",
      "authenticationEnabled=true",
      "authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken",
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
