import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { signToken } from "../src/internal/auth.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { http, testWorkerOptions, until } from "./helpers.ts";

// Attacks on a multi-tenant worker: each test performs one and expects a clear 4xx, or that it does no harm.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `s${Date.now().toString(36)}`;
const JWT_SECRET = `jwt-${run}-0123456789abcdef0123456789`;
const ROOT_TOKEN = `root-${run}-static-token`;
const AUDIENCE = "pulsar-connect";
const ENV_SECRET = `env-secret-${run}-never-shown`;
const FILE_SECRET = `file-secret-${run}-never-shown`;
const URL_PASSWORD = `url-pw-${run}-never-shown`;
const NESTED_PASSWORD = `nested-pw-${run}-never-shown`;
const SINKS = "/admin/v3/sinks/public/default";

let dataDir: string;
let outDir: string;
let secretsDir: string;
let host: string;
let worker: Worker;
let admin: PulsarAdmin;
let client: PulsarClient;
const logs: string[] = [];
const answers: string[] = [];

const bearer = (claims: Record<string, unknown>) => ({
  authorization: `Bearer ${signToken({ aud: AUDIENCE, ...claims }, JWT_SECRET)}`,
});
const root = { authorization: `Bearer ${ROOT_TOKEN}` };
const teamPublic = bearer({ sub: "team-public" });

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = root) {
  const answer = await http(worker.url, method, path, body, headers);
  answers.push(answer.text);
  return answer;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-sec-"));
  outDir = mkdtempSync(join(tmpdir(), "pulsar-connect-sec-out-"));
  secretsDir = mkdtempSync(join(tmpdir(), "pulsar-connect-sec-secrets-"));
  writeFileSync(join(secretsDir, "db-password"), `${FILE_SECRET}\n`);
  host = fixtureHost();
  process.env.PC_SECTEST_PASSWORD = ENV_SECRET;
  process.env.PC_OTHER_PASSWORD = `${ENV_SECRET}-other`;
  admin = new PulsarAdmin({ serviceUrl: adminUrl });
  client = new PulsarClient({ serviceUrl });
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
    logLevel: "debug",
    maxParallelism: 4,
    secretsEnv: ["PC_SECTEST_*"],
    secretsDir,
    backoff: { initialMs: 100, maxMs: 500 },
    auth: {
      tokens: [{ token: ROOT_TOKEN, role: "root" }],
      jwtSecret: JWT_SECRET,
      audience: AUDIENCE,
      superUserRoles: ["root"],
      tenantRoles: { public: ["team-public"], [run]: ["team-other"] },
    },
  });
});

afterAll(async () => {
  await worker?.close();
  await client?.close();
  delete process.env.PC_SECTEST_PASSWORD;
  delete process.env.PC_OTHER_PASSWORD;
  for (const dir of [dataDir, outDir, secretsDir, host]) if (dir) rmSync(dir, { recursive: true, force: true });
  const everything = [...logs, ...answers].join("\n");
  for (const secret of [ENV_SECRET, FILE_SECRET, URL_PASSWORD, NESTED_PASSWORD, ROOT_TOKEN, JWT_SECRET]) {
    expect(everything, "a secret reached a log line or an answer").not.toContain(secret);
  }
});

describe("a multi-tenant worker under attack", () => {
  it("refuses topic names that would inject into admin URLs; the victim topic survives", async () => {
    const namespace = `public/${run}-victim`;
    const victim = `persistent://${namespace}/orders`;
    await admin.createNamespace(namespace, { ifNotExists: true });
    await admin.createTopic(victim);
    for (const [field, value] of [
      ["inputs", [`${victim}?force=true&x=`]],
      ["inputs", [`${victim}#`]],
      ["inputs", [`${victim}%3Fforce=true`]],
      ["deadLetterTopic", `${victim}?force=true&x=`],
      ["logTopic", `${victim}/x`],
    ] as const) {
      // maxMessageRetries keeps the dead-letter topic's name the only thing refused.
      const config: Record<string, unknown> = {
        sinkType: "test-file",
        inputs: ["in"],
        maxMessageRetries: 1,
        configs: { path: "x" },
      };
      config[field] = value;
      const answer = await api("POST", `${SINKS}/inject`, config);
      expect(answer.status, `${field} ${String(value)}`).toBe(400);
      expect(answer.json.issues.map((issue: { path: string }) => issue.path)).toEqual([
        field === "inputs" ? "inputs.0" : field,
      ]);
    }
    const source = await api("POST", "/admin/v3/sources/public/default/inject", {
      sourceType: "test-counter",
      topicName: `${victim}?force=true&x=`,
    });
    expect(source.status).toBe(400);
    expect(await admin.getTopics(namespace)).toContain(victim);
  });

  it("refuses topics, patterns, dead-letter and log topics of tenants the caller does not manage", async () => {
    const base = { sinkType: "test-file", configs: { path: join(outDir, "own.txt") } };
    const attacks: Array<[string, Record<string, unknown>]> = [
      ["inputs.1", { inputs: ["own", `persistent://${run}/ns/orders`] }],
      ["inputs.0", { inputSpecs: { [`${run}/ns/orders`]: {} } }],
      ["topicsPattern", { topicsPattern: `persistent://${run}/ns/.*` }],
      ["deadLetterTopic", { inputs: ["own"], deadLetterTopic: `${run}/ns/dlq` }],
      ["logTopic", { inputs: ["own"], logTopic: `${run}/ns/log` }],
    ];
    for (const [field, attack] of attacks) {
      for (const path of [`${SINKS}/cross`, `${SINKS}/cross/validate`]) {
        const answer = await api("POST", path, { ...base, ...attack }, teamPublic);
        expect(answer.status, `${path} ${field}`).toBe(403);
        expect(answer.json.reason).toContain(field);
        expect(answer.json.reason).toContain(`tenant '${run}'`);
      }
    }
    const source = await api(
      "POST",
      "/admin/v3/sources/public/default/cross",
      { sourceType: "test-counter", topicName: `persistent://${run}/ns/orders` },
      teamPublic,
    );
    expect(source.status).toBe(403);
    // Own tenant: accepted; a superuser may still wire tenants together.
    const own = await api(
      "POST",
      `${SINKS}/cross/validate`,
      { ...base, inputs: ["own", "public/other/in"] },
      teamPublic,
    );
    expect(own.status).toBe(200);
    expect((await api("POST", `${SINKS}/cross/validate`, { ...base, ...attacks[0]?.[1] })).status).toBe(200);
    // An update cannot smuggle another tenant's dead-letter topic in either.
    expect((await api("POST", `${SINKS}/cross`, { ...base, inputs: ["own"] }, teamPublic)).status).toBe(204);
    const update = await api("PUT", `${SINKS}/cross`, { deadLetterTopic: `${run}/ns/dlq` }, teamPublic);
    expect(update.status).toBe(403);
    expect((await api("DELETE", `${SINKS}/cross`, undefined, teamPublic)).status).toBe(204);
  });

  it("reads secrets only from allowed variables and the secrets folder, and scrubs their values everywhere", async () => {
    const config = (secrets: Record<string, unknown>, name: string) => ({
      sinkType: "test-file",
      inputs: [`${run}-secrets`],
      sourceSubscriptionPosition: "Earliest",
      configs: { path: join(outDir, `${name}.txt`), failOn: "poison" },
      secrets,
    });
    for (const secrets of [
      { password: { env: "PC_OTHER_PASSWORD" } },
      { password: { env: "PATH" } },
      { password: { file: "../db-password" } },
      { password: { file: "missing" } },
      { password: { unknown: 1 } },
    ]) {
      const answer = await api("POST", `${SINKS}/sec-refused`, config(secrets, "refused"));
      expect(answer.status, JSON.stringify(secrets)).toBe(400);
      expect(answer.json.issues.map((issue: { path: string }) => issue.path)).toEqual(["secrets.password"]);
      // The variable or file named is a reference, not the secret: the operator needs to see which one was refused.
      if ("env" in secrets.password) expect(answer.json.reason).toContain(`'${secrets.password.env}'`);
    }
    const producer = await client.createProducer({ topic: `persistent://public/default/${run}-secrets` });
    await producer.send({ value: "before" });
    await producer.send({ value: "poison" });
    await producer.close();
    for (const [name, secrets, value] of [
      ["sec-env", { password: { env: "PC_SECTEST_PASSWORD" } }, ENV_SECRET],
      ["sec-file", { password: { file: "db-password" } }, FILE_SECRET],
    ] as const) {
      expect((await api("POST", `${SINKS}/${name}`, config(secrets, name))).status).toBe(204);
      // The sink fails on "poison" with an error that names the password it connected with.
      await until(
        async () => (await api("GET", `${SINKS}/${name}/status`)).json.instances[0].status.numSinkExceptions > 0,
      );
      const status = await api("GET", `${SINKS}/${name}/0/status`);
      expect(status.text).toContain("refusing to write 'poison' as ********");
      expect(status.text).not.toContain(value);
      expect((await api("GET", `${SINKS}/${name}`)).json.secrets.password).toBe("********");
      expect((await api("DELETE", `${SINKS}/${name}`)).status).toBe(204);
    }
  });

  it("caps parallelism before storing, and matches a backtracking topicsPattern in linear time", async () => {
    const big = await api("POST", `${SINKS}/wide`, {
      sinkType: "test-file",
      inputs: ["x"],
      parallelism: 1_000_000,
      configs: { path: "x" },
    });
    expect(big.status).toBe(400);
    expect(big.json.issues).toEqual([
      { path: "parallelism", message: "must be at most 4 (the worker's maxParallelism)" },
    ]);
    expect((await api("GET", SINKS)).json).not.toContain("wide");
    for (const pattern of ["public/default/(a)\\1", "public/default/(?!x).*", "(a+)+"]) {
      const answer = await api("POST", `${SINKS}/redos`, {
        sinkType: "test-file",
        topicsPattern: pattern,
        configs: { path: "x" },
      });
      expect(answer.status, pattern).toBe(400);
    }
    // (a|aa)+$ against a name of 60 a's and a tail takes exponential time for a backtracking matcher.
    const namespace = `public/${run}-redos`;
    await admin.createNamespace(namespace, { ifNotExists: true });
    await admin.createTopic(`persistent://${namespace}/${"a".repeat(60)}-x`);
    const created = await api("POST", `${SINKS}/redos`, {
      sinkType: "test-file",
      topicsPattern: `persistent://${namespace}/(a|aa)+$`,
      configs: { path: join(outDir, "redos.txt") },
    });
    expect(created.status).toBe(204);
    await until(async () => (await api("GET", `${SINKS}/redos/status`)).json.numRunning === 1, 30_000, "running");
    const started = Date.now();
    expect((await api("GET", "/health", undefined, {})).text).toBe("ok");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await api("DELETE", `${SINKS}/redos`)).status).toBe(204);
  });

  it("restores a stored config above the parallelism cap without taking the worker down", async () => {
    const folder = mkdtempSync(join(tmpdir(), "pc-restore-"));
    const options = {
      port: 0,
      dataDir: folder,
      hostDirs: [host],
      pulsarServiceUrl: serviceUrl,
      pulsarAdminUrl: adminUrl,
      maxParallelism: 2,
      logDestination: { write: () => undefined },
    };
    let restored = await Worker.start(options);
    try {
      const config = { sinkType: "test-file", inputs: [`${run}-restore`], parallelism: 2, configs: { path: "x" } };
      expect((await http(restored.url, "POST", `${SINKS}/wide`, config)).status).toBe(204);
      expect((await http(restored.url, "POST", `${SINKS}/wide/stop`)).status).toBe(204);
      await restored.close();
      // A config stored by an older worker (or under a higher cap) asks for a million instances.
      const [file] = readdirSync(join(folder, "connectors")).filter((name) => name.endsWith(".json"));
      const path = join(folder, "connectors", file as string);
      const stored = JSON.parse(readFileSync(path, "utf8"));
      stored.config.parallelism = 1_000_000;
      writeFileSync(path, JSON.stringify(stored));
      restored = await Worker.start(options);
      const status = await http(restored.url, "GET", `${SINKS}/wide/status`);
      expect(status.status).toBe(200);
      expect(status.json.numInstances).toBe(2);
    } finally {
      await restored.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("redacts passwords inside URLs and nested maps, and never re-sends a stored one to a new host", async () => {
    const name = "urls";
    const jdbcUrl = `postgres://app:${URL_PASSWORD}@db.internal:5432/app`;
    const created = await api("POST", `${SINKS}/${name}`, {
      sinkType: "test-file",
      inputs: [`${run}-urls`],
      configs: {
        path: join(outDir, "urls.txt"),
        jdbcUrl,
        otherUrl: `jdbc:postgresql://db.internal/app?user=app&password=${URL_PASSWORD}`,
        producerConfigProperties: { "ssl.key.password": NESTED_PASSWORD, "client.id": "c1" },
      },
    });
    expect(created.status).toBe(204);
    const shown = (await api("GET", `${SINKS}/${name}`)).json;
    expect(shown.configs.jdbcUrl).toBe("postgres://app:********@db.internal:5432/app");
    expect(shown.configs.otherUrl).toBe("jdbc:postgresql://db.internal/app?user=app&password=********");
    expect(shown.configs.producerConfigProperties).toEqual({ "ssl.key.password": "********", "client.id": "c1" });
    const validated = await api("POST", `${SINKS}/${name}/validate`, {
      ...shown,
      configs: { ...shown.configs, jdbcUrl },
    });
    expect(validated.text).not.toContain(URL_PASSWORD);
    // Re-sending the placeholder while pointing the URL elsewhere would hand the stored password to that host.
    const moved = await api("PUT", `${SINKS}/${name}`, {
      configs: { ...shown.configs, jdbcUrl: "postgres://app:********@attacker.example:5432/app" },
    });
    expect(moved.status).toBe(400);
    expect(moved.json.issues.map((issue: { path: string }) => issue.path)).toEqual(["configs.jdbcUrl"]);
    const movedWithNested = await api("PUT", `${SINKS}/${name}`, {
      configs: { ...shown.configs, otherUrl: "jdbc:postgresql://attacker.example/app" },
    });
    expect(movedWithNested.status).toBe(400);
    // The same placeholder with the same destination keeps the stored secrets.
    const kept = await api("PUT", `${SINKS}/${name}`, { configs: { ...shown.configs, failOn: "never" } });
    expect(kept.status).toBe(204);
    expect((await api("GET", `${SINKS}/${name}`)).json.configs).toEqual({ ...shown.configs, failOn: "never" });
    expect((await api("DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });

  it("authenticates before decoding the path, and keeps /metrics to superusers", async () => {
    const malformed = await http(worker.url, "GET", "/admin/v3/sinks/%E0");
    expect(malformed.status).toBe(401);
    const decoded = await api("GET", "/admin/v3/sinks/%E0/%E0%A4");
    expect(decoded.status).toBe(400);
    expect(decoded.json.reason).toBe("Malformed percent-encoding in the request path");
    expect((await http(worker.url, "GET", "/metrics")).status).toBe(401);
    expect((await http(worker.url, "GET", "/metrics", undefined, teamPublic)).status).toBe(403);
    const metrics = await http(worker.url, "GET", "/metrics", undefined, root);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain("process_resident_memory_bytes");
    expect(logs.join("\n")).not.toContain("URIError");
  });

  it("checks audience, issuer and time claims of tokens, and refuses tenants it was not given", async () => {
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) => ({
      authorization: `Bearer ${signToken(claims, JWT_SECRET)}`,
    });
    for (const claims of [
      { sub: "team-public" },
      { sub: "team-public", aud: "pulsar-broker" },
      { sub: "team-public", aud: AUDIENCE, exp: "9999999999" },
      { sub: "team-public", aud: AUDIENCE, exp: now - 5 },
      { sub: "team-public", aud: AUDIENCE, nbf: "0" },
    ]) {
      expect((await http(worker.url, "GET", SINKS, undefined, sign(claims))).status, JSON.stringify(claims)).toBe(401);
    }
    const listed = sign({ sub: "team-public", aud: ["other", AUDIENCE], exp: now + 60 });
    expect((await http(worker.url, "GET", SINKS, undefined, listed)).status).toBe(200);
    const issued = await Worker.start({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), "pc-issuer-")),
      hostDirs: [host],
      auth: { jwtSecret: JWT_SECRET, issuer: "corp-issuer" },
      logDestination: { write: () => undefined },
    });
    try {
      expect((await http(issued.url, "GET", SINKS, undefined, sign({ sub: "a" }))).status).toBe(401);
      expect((await http(issued.url, "GET", SINKS, undefined, sign({ sub: "a", iss: "pulsar" }))).status).toBe(401);
      expect((await http(issued.url, "GET", SINKS, undefined, sign({ sub: "a", iss: "corp-issuer" }))).status).toBe(
        200,
      );
    } finally {
      await issued.close();
    }
    for (const tenant of ["__proto__", "constructor", "toString"]) {
      expect((await http(worker.url, "GET", `/admin/v3/sinks/${tenant}/ns`, undefined, teamPublic)).status).toBe(403);
    }
  });

  it("shows no exception text on a /metrics endpoint left open to scrapers", async () => {
    const open = await Worker.start({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), "pc-metrics-")),
      hostDirs: [host],
      pulsarServiceUrl: serviceUrl,
      pulsarAdminUrl: adminUrl,
      backoff: { initialMs: 100, maxMs: 500 },
      auth: {
        tokens: [{ token: ROOT_TOKEN, role: "root" }],
        superUserRoles: ["root"],
        authenticateMetricsEndpoint: false,
      },
      logDestination: { write: () => undefined },
    });
    try {
      const created = await http(
        open.url,
        "POST",
        `${SINKS}/leaky`,
        {
          sinkType: "test-file",
          inputs: [`${run}-metrics`],
          configs: { path: join(outDir, "customer-42.txt"), failOpen: true },
        },
        root,
      );
      expect(created.status).toBe(204);
      await until(
        async () => (await http(open.url, "GET", `${SINKS}/leaky/0/status`, undefined, root)).json.numRestarts > 0,
      );
      const metrics = await http(open.url, "GET", "/metrics");
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/pulsar_sink_received_total\{[^}]*name="leaky"/);
      expect(metrics.text).not.toContain("customer-42");
      expect(metrics.text).not.toContain("exception=");
    } finally {
      await open.close();
    }
  });

  it("confines SQLite database files to the worker's fileDirs", async () => {
    const files = await Worker.start({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), "pc-files-")),
      hostDirs: [join(import.meta.dirname, "..")],
      preferSource: true,
      pulsarServiceUrl: serviceUrl,
      pulsarAdminUrl: adminUrl,
      fileDirs: [outDir],
      logDestination: { write: () => undefined },
    });
    try {
      const sink = (jdbcUrl: string) => ({
        sinkType: "jdbc-sqlite",
        inputs: ["in"],
        configs: { jdbcUrl, tableName: "people" },
      });
      for (const path of [join(dataDir, "connectors", "victim.db"), "/etc/passwd", join(outDir, "..", "x.db")]) {
        const answer = await http(files.url, "POST", `${SINKS}/files/validate`, sink(`jdbc:sqlite:${path}`));
        expect(answer.status, path).toBe(400);
        expect(answer.json.issues.map((issue: { path: string }) => issue.path)).toEqual(["configs.jdbcUrl"]);
        expect(answer.text).toContain("inside the folders the worker allows");
      }
      const inside = await http(
        files.url,
        "POST",
        `${SINKS}/files/validate`,
        sink(`jdbc:sqlite:${join(outDir, "a.db")}`),
      );
      expect(inside.status).toBe(200);
    } finally {
      await files.close();
    }
  });

  it("refuses auth settings of the wrong shape instead of guessing", async () => {
    const attempts: Array<[unknown, RegExp]> = [
      [{ jwtSecret: JWT_SECRET, superUserRoles: "admin" }, /superUserRoles must be a list/],
      [{ jwtSecret: JWT_SECRET, tenantRoles: { public: "team" } }, /tenantRoles.public must be a list/],
      [{ tokens: [{ token: 42, role: "x" }] }, /tokens.0.token/],
      [{ jwtSecret: JWT_SECRET, superUserrRoles: ["admin"] }, /unknown setting 'superUserrRoles'/],
      [{ superUserRoles: ["admin"] }, /give tokens or jwtSecret/],
    ];
    for (const [auth, message] of attempts) {
      await expect(
        Worker.start({
          port: 0,
          dataDir: mkdtempSync(join(tmpdir(), "pc-auth-")),
          hostDirs: [host],
          auth: auth as never,
        }),
      ).rejects.toThrow(message);
    }
  });
});
