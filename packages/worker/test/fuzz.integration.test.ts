import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { signToken } from "../src/internal/auth.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { testWorkerOptions } from "./helpers.ts";

// Seeded property-based fuzzing of a running worker (real broker, real runtime): random paths, methods,
// headers, tokens, JSON and multipart bodies. No answer may be a 5xx, no answer or log line may hold a secret,
// and the worker must still serve afterwards. FUZZ_RUNS and FUZZ_SEED override the defaults.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const run = `f${Date.now().toString(36)}`;
const JWT_SECRET = `fuzz-jwt-${run}-0123456789abcdef`;
const ROOT_TOKEN = `fuzz-root-${run}-token`;
const PASSWORD = `fuzz-pw-${run}-never-shown`;
const ENV_SECRET = `fuzz-env-${run}-never-shown`;
const SECRETS = [JWT_SECRET, ROOT_TOKEN, PASSWORD, ENV_SECRET];

let dataDir: string;
let outDir: string;
let host: string;
let worker: Worker;
const logs: string[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

function send(target: FuzzRequest): Promise<{ status: number; text: string }> {
  const url = new URL(worker.url);
  return new Promise((done, fail) => {
    const outgoing = request(
      { host: url.hostname, port: url.port, method: target.method, path: target.path, headers: target.headers, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => done({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        response.on("error", fail);
      },
    );
    outgoing.on("error", fail);
    outgoing.end(target.body);
  });
}

const now = Math.floor(Date.now() / 1000);
// Half of the requests carry the superuser token, so that most reach the routes behind authentication.
const tokenArb = fc.oneof(
  fc.constant(`Bearer ${ROOT_TOKEN}`),
  fc.constantFrom(
    undefined,
    `Bearer ${ROOT_TOKEN}`,
    `Bearer ${signToken({ sub: "team", aud: "pulsar-connect" }, JWT_SECRET)}`,
    `Bearer ${signToken({ sub: "root", aud: "pulsar-connect", exp: now - 10 }, JWT_SECRET)}`,
    `Bearer ${signToken({ sub: "root", aud: "elsewhere" }, JWT_SECRET)}`,
    `Bearer ${signToken({ sub: "root", aud: "pulsar-connect", exp: "never" }, JWT_SECRET)}`,
    `Bearer ${signToken({ sub: "root" }, "another-key")}`,
    "Bearer a.b.c",
    "Bearer",
    "Basic cm9vdDpyb290",
    `bearer ${ROOT_TOKEN}`,
  ),
);

const segmentArb = fc.oneof(
  fc.constantFrom(
    "public",
    "default",
    "team",
    "fz1",
    "fz2",
    "builtinsinks",
    "builtinsources",
    "test-file",
    "test-counter",
    "configdefinition",
    "status",
    "start",
    "stop",
    "restart",
    "validate",
    "reloadBuiltInSinks",
    "reloadBuiltInSources",
    "0",
    "1",
    "99",
    "-1",
    "%E0",
    "%E0%A4",
    "%2F",
    "%00",
    "%25",
    "..",
    ".",
    "__proto__",
    "constructor",
    "toString",
    "a:b",
    "x=y",
  ),
  fc.stringMatching(/^[\w.~:=%-]{1,12}$/),
);

const pathArb = fc
  .tuple(
    fc.constantFrom("/admin/v3/", "/admin/v3/", "/admin/v3/", "/admin/v2/", "/", "/metrics", "/health", "//admin/v3/"),
    fc.constantFrom("sinks", "sink", "sources", "source", "functions", ""),
    fc.array(segmentArb, { maxLength: 6 }),
    fc.option(fc.stringMatching(/^[\w=&%.-]{0,20}$/), { nil: undefined }),
  )
  .map(([prefix, kind, segments, query]) => {
    const base = prefix.startsWith("/admin") || prefix === "//admin/v3/" ? `${prefix}${kind}` : prefix;
    const path = segments.length > 0 && base.endsWith("/") ? base + segments.join("/") : [base, ...segments].join("/");
    return query === undefined ? path : `${path}?${query}`;
  });

// Most requests aim at real routes with real names, so that creates, updates and deletes succeed now and then.
const routeArb = fc
  .tuple(
    fc.constantFrom("sinks", "sources"),
    fc.constantFrom("public", "team", "other", "%E0"),
    fc.constantFrom("default", "ns"),
    fc.constantFrom("fz1", "fz2", "fz3"),
    fc.constantFrom("", "", "/status", "/0/status", "/1/status", "/validate", "/stop", "/start", "/restart", "/0/stop"),
  )
  .map(([kind, tenant, namespace, name, action]) => `/admin/v3/${kind}/${tenant}/${namespace}/${name}${action}`);

const topicArb = fc.oneof(
  fc.constantFrom(
    "in",
    `${run}-in`,
    "persistent://public/default/in",
    "persistent://other/ns/in",
    "persistent://public/default/in?force=true&x=",
    "public/default/in#",
    "non-persistent://public/default/x",
    "a/b",
    "",
  ),
  fc.string({ maxLength: 30 }),
);

const configArb = fc.record(
  {
    sinkType: fc.constantFrom("test-file", "test-counter", "missing", 3),
    sourceType: fc.constantFrom("test-counter", "test-file"),
    archive: fc.constantFrom("builtin://test-file", "builtin://test-counter", "file:///etc/passwd", "http://x/y.nar"),
    tenant: segmentArb,
    namespace: segmentArb,
    name: segmentArb,
    inputs: fc.oneof(fc.array(topicArb, { maxLength: 3 }), fc.anything()),
    topicName: topicArb,
    topicsPattern: fc.constantFrom("public/default/.*", "public/default/(a|aa)+$", "(a)\\1", "other/ns/.*", "["),
    deadLetterTopic: topicArb,
    logTopic: topicArb,
    sourceSubscriptionName: fc.oneof(fc.string({ maxLength: 20 }), fc.constant("bad\u0000name")),
    parallelism: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constant(1_000_000), fc.double()),
    processingGuarantees: fc.constantFrom("ATLEAST_ONCE", "ATMOST_ONCE", "EFFECTIVELY_ONCE", "MANUAL", "NONE"),
    configs: fc.oneof(
      fc.record(
        {
          path: fc.constant(join(tmpdir(), `${run}-fuzz.txt`)),
          password: fc.constantFrom(PASSWORD, "********"),
          failOpen: fc.oneof(fc.constant(true), fc.anything()),
          jdbcUrl: fc.constantFrom(
            `postgres://u:${PASSWORD}@db.internal/app`,
            "postgres://u:********@attacker.example/app",
            `jdbc:postgresql://db/app?password=${PASSWORD}`,
          ),
          producerConfigProperties: fc.constant({ "ssl.key.password": PASSWORD }),
          count: fc.integer({ min: 0, max: 3 }),
          apiKey: fc.constant(PASSWORD),
        },
        { requiredKeys: ["path"] },
      ),
      fc.anything(),
    ),
    secrets: fc.oneof(
      fc.constant({ password: PASSWORD }),
      fc.constant({ password: { env: "FUZZ_SECRET_PASSWORD" } }),
      fc.constant({ password: { env: "PATH" } }),
      fc.constant({ password: { file: "../../etc/passwd" } }),
      fc.anything(),
    ),
    cleanupSubscription: fc.boolean(),
  },
  { requiredKeys: [] },
);

// A config that is valid for the fixture connectors, with a few fields replaced by random ones.
const validishArb = fc
  .tuple(
    fc.constantFrom(
      { sinkType: "test-file", inputs: [`${run}-in`] },
      { sourceType: "test-counter", topicName: `${run}-out` },
      { sinkType: "test-file", topicsPattern: `public/default/${run}-.*` },
    ),
    configArb,
    fc.subarray(["parallelism", "configs", "secrets", "deadLetterTopic", "processingGuarantees", "inputs"], {
      maxLength: 2,
    }),
  )
  .map(([base, random, fields]) => {
    const config: Record<string, unknown> = {
      ...base,
      configs: { path: join(tmpdir(), `${run}-fuzz.txt`), password: PASSWORD, failOpen: true, count: 1 },
      secrets: { token: PASSWORD },
    };
    for (const field of fields) if (field in random) config[field] = (random as Record<string, unknown>)[field];
    return config;
  });

const bodyArb: fc.Arbitrary<{ contentType: string | undefined; body: Buffer | undefined }> = fc.oneof(
  fc.constant({ contentType: undefined, body: undefined }),
  validishArb.map((config) => ({ contentType: "application/json", body: Buffer.from(JSON.stringify(config)) })),
  validishArb.map((config) => ({ contentType: "application/json", body: Buffer.from(JSON.stringify(config)) })),
  configArb.map((config) => ({ contentType: "application/json", body: Buffer.from(JSON.stringify(config)) })),
  fc.jsonValue().map((value) => ({ contentType: "application/json", body: Buffer.from(JSON.stringify(value)) })),
  fc.string({ maxLength: 200 }).map((text) => ({ contentType: "application/json", body: Buffer.from(text) })),
  fc
    .tuple(configArb, fc.constantFrom("sinkConfig", "sourceConfig", "data", "url", "other"), fc.boolean())
    .map(([config, part, broken]) => {
      const boundary = "fuzzboundary";
      const text = [
        `--${boundary}`,
        `Content-Disposition: form-data; name="${part}"`,
        "Content-Type: application/json",
        "",
        JSON.stringify(config),
        broken ? "" : `--${boundary}--`,
        "",
      ].join("\r\n");
      return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.from(text) };
    }),
  fc
    .tuple(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom(
        "text/plain",
        "application/octet-stream",
        "multipart/form-data",
        "multipart/form-data; boundary=",
      ),
    )
    .map(([bytes, contentType]) => ({ contentType, body: Buffer.from(bytes) })),
);

const requestArb: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.constantFrom("GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
    fc.oneof({ arbitrary: routeArb, weight: 3 }, { arbitrary: pathArb, weight: 1 }),
    tokenArb,
    bodyArb,
    fc.option(fc.constantFrom("0", "5", "99999999999", "-1"), { nil: undefined }),
  )
  .map(([method, path, token, { contentType, body }, badLength]) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = token;
    if (contentType !== undefined) headers["content-type"] = contentType;
    // A wrong content-length only where it cannot desynchronise the keep-alive connection of the next request.
    if (badLength !== undefined && body === undefined) headers["content-length"] = "0";
    return { method, path, headers, body: method === "GET" || method === "HEAD" ? undefined : body };
  });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-fuzz-"));
  outDir = mkdtempSync(join(tmpdir(), "pulsar-connect-fuzz-out-"));
  host = fixtureHost();
  process.env.FUZZ_SECRET_PASSWORD = ENV_SECRET;
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }),
    logLevel: "debug",
    maxParallelism: 2,
    stopTimeoutMs: 5_000,
    secretsEnv: ["FUZZ_SECRET_*"],
    auth: {
      tokens: [{ token: ROOT_TOKEN, role: "root" }],
      jwtSecret: JWT_SECRET,
      audience: "pulsar-connect",
      superUserRoles: ["root"],
      tenantRoles: { team: ["team"], public: ["team"] },
    },
  });
});

afterAll(async () => {
  await worker?.close();
  agent.destroy();
  delete process.env.FUZZ_SECRET_PASSWORD;
  for (const dir of [dataDir, outDir, host]) if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(join(tmpdir(), `${run}-fuzz.txt`), { force: true });
});

describe("fuzzing the admin API", () => {
  it(`answers ${RUNS} random requests without a 5xx or a secret, and still serves afterwards`, async () => {
    const started = Date.now();
    let leaked: string | undefined;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (target) => {
        const answer = await send(target);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status >= 500) throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
        leaked = SECRETS.find((secret) => answer.text.includes(secret));
        if (leaked) throw new Error(`a secret is in the answer: ${answer.text.slice(0, 300)}`);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (Date.now() - started) / 1000;
    const spread = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`);
    console.info(`fuzz: ${RUNS} requests in ${seconds.toFixed(1)} s (seed ${SEED}); ${spread.join(", ")}`);
    expect(leaked).toBeUndefined();
    const health = await send({ method: "GET", path: "/health", headers: {}, body: undefined });
    expect(health).toEqual({ status: 200, text: "ok" });
    const list = await send({
      method: "GET",
      path: "/admin/v3/sinks/public/default",
      headers: { authorization: `Bearer ${ROOT_TOKEN}` },
      body: undefined,
    });
    expect(list.status).toBe(200);
    const log = logs.join("\n");
    for (const secret of SECRETS) expect(log.includes(secret), "a secret reached the log").toBe(false);
    expect(log).not.toContain('"msg":"request failed"');
  }, 300_000);
});
