// localrun and the worker reach a broker that requires JWT authentication with OAuth2 client credentials: tokens
// come from a small local authorization server and live 5 seconds, so the broker challenges every connection
// several times while data flows. The shared broker has no authentication, so this file starts its OWN standalone
// through tooling/services (own ports and data directory) and restarts that JVM with authentication added.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { MessageId, PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { Worker } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OAuth2Server, signHs256, startOAuth2Server } from "../../pulsar-client/test/oauth2-server.ts";
import { fixtureHost } from "../../worker/test/fixtures/host.ts";
import { linesOf, until } from "../../worker/test/helpers.ts";
import { runCli } from "../src/internal/program.ts";

const exec = promisify(execFile);
const SERVICES_CLI = fileURLToPath(new URL("../../../tooling/services/src/cli.ts", import.meta.url));
const OAUTH2 = "org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2";
const runDir = mkdtempSync(join(tmpdir(), "pulsar-connect-oauth2-broker-"));
// This file's ports: 7400-7499 (broker 7450-7459, web 7460-7469, bookie 7470-7479).
const offset = Math.floor(Math.random() * 10);
const PORT = 7450 + offset;
const WEB_PORT = 7460 + offset;
const env = {
  ...process.env,
  PC_SERVICES_RUN: runDir,
  PULSAR_BROKER_PORT: String(PORT),
  PULSAR_WEB_PORT: String(WEB_PORT),
  PULSAR_BOOKIE_PORT: String(7470 + offset),
};
const secret = randomBytes(32);
const ADMIN_TOKEN = signHs256(secret, { sub: "admin" });
const serviceUrl = `pulsar://127.0.0.1:${PORT}`;
const adminUrl = `http://127.0.0.1:${WEB_PORT}`;
const run = `ob${Date.now().toString(36)}`;
let brokerPid: number | undefined;
let oauth: OAuth2Server;
let host: string;
let oauthParams: string;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  await exec(process.execPath, [SERVICES_CLI, "up", "pulsar"], { env, timeout: 240_000 });
  const pid = (JSON.parse(readFileSync(join(runDir, "pulsar", "state.json"), "utf8")) as { pid: number }).pid;
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .filter((part) => part !== "");
  const environ = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter((entry) => entry.includes("="))
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const confFile = argv[argv.indexOf("--config") + 1] as string;
  process.kill(pid, "SIGTERM");
  await until(() => !alive(pid), 30_000, "the plain broker to stop");
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
      "",
    ].join("\n"),
  );
  const log = openSync(join(runDir, "auth-broker.log"), "a");
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd,
    env: environ,
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  brokerPid = child.pid;
  const admin = new PulsarAdmin({ serviceUrl: adminUrl, authToken: ADMIN_TOKEN });
  await until(
    async () => (await admin.getNamespaces("public").catch((): string[] => [])).includes("public/default"),
    180_000,
    "the broker with authentication",
  );
  oauth = await startOAuth2Server({ secret, clients: { "io-worker": "worker-secret" }, lifetimeSeconds: 5 });
  const credentials = join(runDir, "credentials.json");
  writeFileSync(credentials, JSON.stringify({ client_id: "io-worker", client_secret: "worker-secret" }));
  oauthParams = JSON.stringify({
    type: "client_credentials",
    issuerUrl: oauth.issuerUrl,
    privateKey: `file://${credentials}`,
  });
  host = fixtureHost();
}, 300_000);

afterAll(async () => {
  await oauth?.close();
  if (brokerPid !== undefined && alive(brokerPid)) {
    process.kill(brokerPid, "SIGTERM");
    await until(() => !alive(brokerPid as number), 30_000, "broker stop").catch(() =>
      process.kill(brokerPid as number, "SIGKILL"),
    );
  }
  await exec(process.execPath, [SERVICES_CLI, "down", "pulsar"], { env, timeout: 60_000 }).catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
  if (host) rmSync(host, { recursive: true, force: true });
}, 120_000);

/** Reads `count` messages of `topic` from the beginning, as the broker's superuser. */
async function valuesOf(topic: string, count: number): Promise<string[]> {
  const client = new PulsarClient({ serviceUrl, authToken: ADMIN_TOKEN });
  try {
    const reader = await client.createReader({ topic, startMessageId: MessageId.earliest });
    const values: string[] = [];
    while (values.length < count) values.push((await reader.readNext(20_000)).data.toString());
    return values;
  } finally {
    await client.close();
  }
}

describe("AuthenticationOAuth2 towards a broker that verifies the issuer's JWTs", () => {
  it("localrun --client-auth-plugin/--client-auth-params: the source's records reach the topic", async () => {
    const topic = `persistent://public/default/${run}-localrun`;
    let stderr = "";
    const before = oauth.issued.length;
    const code = await runCli(
      [
        "sources",
        "localrun",
        "-t",
        "test-counter",
        "-o",
        topic,
        "--source-config",
        JSON.stringify({ count: 20, intervalMs: 500 }),
        "--broker-service-url",
        serviceUrl,
        "--web-service-url",
        adminUrl,
        "--client-auth-plugin",
        OAUTH2,
        "--client-auth-params",
        oauthParams,
        "--connectors-dir",
        host,
      ],
      { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, env: {} },
    );
    expect(code, stderr).toBe(0);
    // 20 records, 10 per batch every 500 ms: shorter than a token, but the first one is always fetched.
    expect(oauth.issued.length).toBeGreaterThan(before);
    expect(await valuesOf(topic, 20)).toEqual(Array.from({ length: 20 }, (_, index) => `value-${index}`));
  });

  it("the worker's own connection (pulsarAuthPlugin): a sink keeps writing across token refreshes", async () => {
    const dataDir = mkdtempSync(join(runDir, "worker-"));
    const out = join(dataDir, "out.txt");
    const topic = `persistent://public/default/${run}-sink-in`;
    const worker = await Worker.start({
      port: 0,
      dataDir,
      hostDirs: [host],
      pulsarServiceUrl: serviceUrl,
      pulsarAdminUrl: adminUrl,
      pulsarAuthPlugin: OAUTH2,
      pulsarAuthParams: oauthParams,
      logDestination: { write: () => true },
    });
    const producer = new PulsarClient({ serviceUrl, authToken: ADMIN_TOKEN });
    try {
      const response = await fetch(`${worker.url}/admin/v3/sinks/public/default/${run}-sink`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ archive: "builtin://test-file", inputs: [topic], configs: { path: out } }),
      });
      expect(response.ok, await response.text()).toBe(true);
      const send = await producer.createProducer({ topic });
      await until(
        async () => {
          const status = (await (
            await fetch(`${worker.url}/admin/v3/sinks/public/default/${run}-sink/status`)
          ).json()) as {
            numRunning: number;
          };
          return status.numRunning === 1;
        },
        60_000,
        "the sink to run",
      );
      await send.send({ value: Buffer.from("before") });
      await until(() => linesOf(out).includes("before"), 30_000, "the first record");
      const issued = oauth.issued.length;
      // Two token lifetimes: the broker challenges the worker's connection after each expiry.
      await until(() => oauth.issued.length >= issued + 2, 30_000, "two token refreshes");
      await send.send({ value: Buffer.from("after") });
      await until(() => linesOf(out).includes("after"), 30_000, "a record after the refreshes");
      expect(linesOf(out)).toEqual(["before", "after"]);
    } finally {
      await producer.close();
      await worker.close();
    }
  });

  it("a worker with a plugin it cannot honour does not start, naming the setting", async () => {
    await expect(
      Worker.start({
        port: 0,
        dataDir: mkdtempSync(join(runDir, "bad-")),
        hostDirs: [host],
        pulsarAuthPlugin: "com.acme.Auth",
      }),
    ).rejects.toThrow(/pulsarAuthPlugin\/pulsarAuthParams: authPlugin com.acme.Auth is not supported/);
    await expect(
      Worker.start({
        port: 0,
        dataDir: mkdtempSync(join(runDir, "both-")),
        hostDirs: [host],
        pulsarAuthToken: "x",
        pulsarAuthPlugin: OAUTH2,
      }),
    ).rejects.toThrow(/give pulsarAuthToken or pulsarAuthPlugin/);
  });
});
