// pulsar-admin's client options: client.conf (from --client-conf or $PULSAR_CLIENT_CONF), --auth-plugin and
// --auth-params (token and OAuth2 client credentials against a small local authorization server whose HS256 JWTs the
// worker verifies), and localrun's --metrics-port-start.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signToken, Worker } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type OAuth2Server, startOAuth2Server } from "../../pulsar-client/test/oauth2-server.ts";
import { fixtureHost } from "../../worker/test/fixtures/host.ts";
import { testWorkerOptions } from "../../worker/test/helpers.ts";
import { runCli } from "../src/internal/program.ts";

const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `co${Date.now().toString(36)}`;
const secret = randomBytes(32);
const OAUTH2 = "org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2";
const TOKEN = "org.apache.pulsar.client.impl.auth.AuthenticationToken";
// This file's ports: 7400-7499.
const METRICS_PORT = 7400 + Math.floor(Math.random() * 100);

let worker: Worker;
let oauth: OAuth2Server;
let dir: string;
let host: string;
const logs: string[] = [];

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  });
  return { code, stdout, stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function oauthParams(clientSecret: string): string {
  return JSON.stringify({
    type: "client_credentials",
    issuerUrl: oauth.issuerUrl,
    privateKey: `file://${file(`creds-${clientSecret}.json`, JSON.stringify({ client_id: "deployer", client_secret: clientSecret }))}`,
    audience: "urn:pulsar-connect",
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pulsar-connect-client-options-"));
  host = fixtureHost();
  oauth = await startOAuth2Server({ secret, clients: { deployer: "right" }, lifetimeSeconds: 300 });
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir: join(dir, "data"), hostDir: host, serviceUrl, adminUrl, logs }),
    auth: {
      jwtSecret: `base64:${secret.toString("base64")}`,
      audience: "urn:pulsar-connect",
      superUserRoles: ["deployer"],
    },
  });
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await oauth?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (host) rmSync(host, { recursive: true, force: true });
});

describe("client.conf and authentication plugins towards the worker", () => {
  it("client.conf from $PULSAR_CLIENT_CONF or --client-conf: webServiceUrl and AuthenticationOAuth2", async () => {
    const conf = file(
      "oauth.conf",
      [
        "# as pulsar-admin reads it",
        `webServiceUrl=${worker.url}/`,
        "brokerServiceUrl=pulsar://localhost:6650/",
        `authPlugin=${OAUTH2}`,
        `authParams=${oauthParams("right")}`,
        "tlsAllowInsecureConnection=false",
        "tlsEnableHostnameVerification=false",
        "useKeyStoreTls=false",
        "tlsTrustStoreType=JKS",
        "tlsTrustStorePath=",
        "",
      ].join("\n"),
    );
    const issued = oauth.issued.length;
    const fromEnv = await cli(["sinks", "list"], { PULSAR_CLIENT_CONF: conf });
    expect(fromEnv, fromEnv.stderr).toMatchObject({ code: 0, stdout: "[]\n", stderr: "" });
    expect(oauth.issued.length).toBe(issued + 1);
    expect(oauth.issued.at(-1)?.audience).toBe("urn:pulsar-connect");
    const fromFlag = await cli(["--client-conf", conf, "sources", "list"]);
    expect(fromFlag, fromFlag.stderr).toMatchObject({ code: 0, stdout: "[]\n" });
  });

  it("without credentials the worker refuses; a wrong client secret fails before the worker is asked", async () => {
    const anonymous = await cli(["--admin-url", worker.url, "sinks", "list"]);
    expect(anonymous.code).toBe(4);
    const wrong = await cli([
      "--admin-url",
      worker.url,
      "--auth-plugin",
      OAUTH2,
      "--auth-params",
      oauthParams("wrong"),
    ]);
    expect(wrong.code).toBe(1);
    const denied = await cli([
      "--admin-url",
      worker.url,
      "--auth-plugin",
      OAUTH2,
      "--auth-params",
      oauthParams("wrong"),
      "sinks",
      "list",
    ]);
    expect(denied.code).toBe(4);
    expect(denied.stderr).toContain("invalid_client");
  });

  it("--auth-plugin/--auth-params override client.conf; AuthenticationToken reads token: and file:", async () => {
    const conf = file("token.conf", `webServiceUrl=${worker.url}\nauthPlugin=${TOKEN}\nauthParams=token:not-valid\n`);
    expect((await cli(["--client-conf", conf, "sinks", "list"])).code).toBe(4);
    const jwt = signToken({ sub: "deployer", aud: "urn:pulsar-connect" }, `base64:${secret.toString("base64")}`);
    const tokenFile = file("deployer.token", `${jwt}\n`);
    for (const params of [`token:${jwt}`, `file://${tokenFile}`, jwt]) {
      const result = await cli([
        "--client-conf",
        conf,
        "--auth-plugin",
        TOKEN,
        "--auth-params",
        params,
        "sinks",
        "list",
      ]);
      expect(result, result.stderr).toMatchObject({ code: 0, stdout: "[]\n" });
    }
  });

  it.each([
    ["useKeyStoreTls=true\n", "useKeyStoreTls=true is not supported: Java KeyStores"],
    ["tlsTrustStorePath=/etc/ts.jks\n", "tlsTrustStorePath=/etc/ts.jks is not supported"],
    ["proxyServiceUrl=pulsar://proxy:6650\n", "proxyServiceUrl=pulsar://proxy:6650 is not supported"],
    ["tlsAllowInsecureConnection=maybe\n", "tlsAllowInsecureConnection must be true or false"],
    [
      "authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationBasic\nauthParams=a:b\n",
      "AuthenticationBasic is not supported",
    ],
    [
      "authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationTls\nauthParams=tlsCertFile:/a.pem,tlsKeyFile:/a.key\n",
      "tlsCertFile: cannot read /a.pem",
    ],
  ])("refuses what it cannot honour: %s", async (lines, message) => {
    const conf = file("refused.conf", `webServiceUrl=${worker.url}\n${lines}`);
    const result = await cli(["--client-conf", conf, "sinks", "list"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("warns about a key pulsar-admin does not know either, and carries on", async () => {
    const jwt = signToken({ sub: "deployer", aud: "urn:pulsar-connect" }, `base64:${secret.toString("base64")}`);
    const conf = file(
      "typo.conf",
      `webServiceUrl=${worker.url}\nauthPlugin=${TOKEN}\nauthParams=${jwt}\nauthParam=x\n`,
    );
    const result = await cli(["--client-conf", conf, "sinks", "list"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe(`Warning: ${conf}: unknown setting 'authParam' ignored\n`);
    const missing = await cli(["--client-conf", join(dir, "nope.conf"), "sinks", "list"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.conf does not exist");
  });

  it("AuthenticationTls towards an http:// worker, --tls-provider and --token with --auth-plugin are refused", async () => {
    const cert = file("c.pem", "CERT");
    const key = file("k.pem", "KEY");
    const tls = await cli([
      "--admin-url",
      worker.url,
      "--auth-plugin",
      "org.apache.pulsar.client.impl.auth.AuthenticationTls",
      "--auth-params",
      `tlsCertFile:${cert},tlsKeyFile:${key}`,
      "sinks",
      "list",
    ]);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toContain("needs an https:// admin URL");
    const provider = await cli(["--admin-url", worker.url, "--tls-provider", "OPENSSL", "sinks", "list"]);
    expect(provider.code).toBe(2);
    expect(provider.stderr).toContain("--tls-provider is not supported");
    const both = await cli(["--token", "x", "--auth-plugin", TOKEN, "--auth-params", "token:y", "sinks", "list"]);
    expect(both.code).toBe(2);
  });
});

describe("localrun --metrics-port-start", () => {
  it("serves the instances' Prometheus metrics while it runs, and frees the port when it ends", async () => {
    const topic = `persistent://public/default/${run}-metrics`;
    const running = cli([
      "sources",
      "localrun",
      "--name",
      `${run}-m`,
      "-t",
      "test-counter",
      "-o",
      topic,
      "--source-config",
      JSON.stringify({ count: 0, intervalMs: 50 }),
      "--broker-service-url",
      serviceUrl,
      "--web-service-url",
      adminUrl,
      "--connectors-dir",
      host,
      "--metrics-port-start",
      String(METRICS_PORT),
    ]);
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`).catch(() => undefined);
      return response?.ok ? await response.text() : "";
    };
    await expect
      .poll(
        async () => {
          const match = /pulsar_source_written_total\{[^}]*name="[^"]*-m"[^}]*\} (\d+)/.exec(await scrape());
          return Number(match?.[1] ?? 0);
        },
        { timeout: 60_000 },
      )
      .toBeGreaterThan(0);
    process.emit("SIGINT");
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`metrics on http://127.0.0.1:${METRICS_PORT}/metrics`);
    expect(await scrape()).toBe("");
    // A port in use fails the run before anything starts.
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(METRICS_PORT, "127.0.0.1", resolve));
    try {
      const busy = await cli([
        "sources",
        "localrun",
        "-t",
        "test-counter",
        "-o",
        topic,
        "--connectors-dir",
        host,
        "--broker-service-url",
        serviceUrl,
        "--metrics-port-start",
        String(METRICS_PORT),
      ]);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toContain(`--metrics-port-start ${METRICS_PORT}: listen EADDRINUSE`);
    } finally {
      blocker.close();
    }
    const badPort = await cli([
      "sources",
      "localrun",
      "-t",
      "test-counter",
      "-o",
      topic,
      "--connectors-dir",
      host,
      "--broker-service-url",
      serviceUrl,
      "--metrics-port-start",
      "http",
    ]);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain("--metrics-port-start must be a port number");
  });
});
