import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageId, PulsarClient } from "@pulsar-connect/pulsar-client";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Worker } from "../src/index.ts";
import { http, testWorkerOptions, until } from "./helpers.ts";

// The console's JSON API (/console/api/v1/) on a real worker and Pulsar: the admin API's auth and tenant rules, the
// connector overview, and dead-letter peek and replay, including a replay that must not go where a record says.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `ca${Date.now().toString(36)}`;
const ADMIN = `admin-${run}`;
const PUBLIC_ONLY = `public-${run}`;
const OTHER_ONLY = `other-${run}`;
const API = "/console/api/v1";

let worker: Worker;
let dataDir: string;
let dbFile: string;
let client: PulsarClient;
const logs: string[] = [];

const as = (token: string) => ({ authorization: `Bearer ${token}` });
const topic = (local: string) => `persistent://public/default/${run}-${local}`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-console-api-"));
  dbFile = join(dataDir, "rows.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY)");
  db.close();
  worker = await Worker.start({
    ...testWorkerOptions({ dataDir, hostDir: join(import.meta.dirname, ".."), serviceUrl, adminUrl, logs }),
    preferSource: true,
    auth: {
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: PUBLIC_ONLY, role: "public-team" },
        { token: OTHER_ONLY, role: "other-team" },
      ],
      superUserRoles: ["admin"],
      tenantRoles: { public: ["public-team"], other: ["other-team"] },
    },
  });
  client = new PulsarClient({ serviceUrl });
  const created = await http(
    worker.url,
    "POST",
    `/admin/v3/sinks/public/default/${run}-dl`,
    {
      sinkType: "jdbc-sqlite",
      inputs: [topic("in-a"), topic("in-b")],
      maxMessageRetries: 1,
      deadLetterTopic: topic("dlq"),
      configs: { jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "rows" },
    },
    as(ADMIN),
  );
  expect(created.status, created.text).toBe(204);
  const plain = await http(
    worker.url,
    "POST",
    `/admin/v3/sinks/public/default/${run}-plain`,
    {
      sinkType: "jdbc-sqlite",
      inputs: [topic("in-c")],
      configs: { jdbcUrl: `jdbc:sqlite:${dbFile}`, tableName: "rows" },
    },
    as(ADMIN),
  );
  expect(plain.status, plain.text).toBe(204);
  // Stopped: the dead-letter tests read the input topics themselves.
  expect(
    (await http(worker.url, "POST", `/admin/v3/sinks/public/default/${run}-dl/stop`, undefined, as(ADMIN))).status,
  ).toBe(204);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await worker?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function readAll(topicName: string): Promise<Array<{ data: string; properties: Record<string, string> }>> {
  const reader = await client.createReader({ topic: topicName, startMessageId: MessageId.earliest });
  const out: Array<{ data: string; properties: Record<string, string> }> = [];
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(10_000);
      out.push({ data: message.data.toString("utf8"), properties: message.properties });
    }
  } finally {
    await reader.close();
  }
  return out;
}

describe("console API", { timeout: 120_000 }, () => {
  it("needs a valid token", async () => {
    expect((await http(worker.url, "GET", `${API}/connectors`)).status).toBe(401);
    expect((await http(worker.url, "GET", `${API}/connectors`, undefined, as("wrong"))).status).toBe(401);
    expect((await http(worker.url, "GET", `${API}/deadletters/public/default/${run}-dl`)).status).toBe(401);
    const whoami = await http(worker.url, "GET", `${API}/whoami`, undefined, as(PUBLIC_ONLY));
    expect(whoami.json).toEqual({ role: "public-team", superUser: false });
  });

  it("lists only the connectors of tenants the role manages", async () => {
    const mine = await http(worker.url, "GET", `${API}/connectors`, undefined, as(PUBLIC_ONLY));
    expect(mine.status).toBe(200);
    const names = mine.json.connectors.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining([`${run}-dl`, `${run}-plain`]));
    const others = await http(worker.url, "GET", `${API}/connectors`, undefined, as(OTHER_ONLY));
    expect(others.json.connectors.filter((c: { name: string }) => c.name.startsWith(run))).toEqual([]);
    const dl = mine.json.connectors.find((c: { name: string }) => c.name === `${run}-dl`);
    expect(dl).toMatchObject({
      kind: "sink",
      tenant: "public",
      namespace: "default",
      type: "jdbc-sqlite",
      guarantee: "ATLEAST_ONCE",
      instances: 1,
      stopped: 1,
      deadLetterTopics: [topic("dlq")],
    });
    // Secrets and configs are not part of the overview: the redacted config comes from the admin API.
    expect(dl).not.toHaveProperty("configs");
  });

  it("refuses dead letters of another tenant, bad limits and unknown sinks", async () => {
    const forbidden = await http(
      worker.url,
      "GET",
      `${API}/deadletters/public/default/${run}-dl`,
      undefined,
      as(OTHER_ONLY),
    );
    expect(forbidden.status).toBe(403);
    for (const limit of ["0", "201", "abc", "1.5"]) {
      const answer = await http(
        worker.url,
        "GET",
        `${API}/deadletters/public/default/${run}-dl?limit=${limit}`,
        undefined,
        as(ADMIN),
      );
      expect(answer.status, limit).toBe(400);
    }
    expect(
      (await http(worker.url, "GET", `${API}/deadletters/public/default/nope-${run}`, undefined, as(ADMIN))).status,
    ).toBe(404);
    const plain = await http(worker.url, "GET", `${API}/deadletters/public/default/${run}-plain`, undefined, as(ADMIN));
    expect(plain.json).toEqual({ topics: [] });
    const badReplay = await http(
      worker.url,
      "POST",
      `${API}/deadletters/public/default/${run}-dl/replay`,
      "{not json",
      as(ADMIN),
    );
    expect(badReplay.status).toBe(400);
    const emptyReplay = await http(
      worker.url,
      "POST",
      `${API}/deadletters/public/default/${run}-dl/replay`,
      { messageIds: [] },
      as(ADMIN),
    );
    expect(emptyReplay.status).toBe(400);
  });

  it("peeks at dead letters with their reason and replays them to the input they came from, never elsewhere", async () => {
    const producer = await client.createProducer({ topic: topic("dlq") });
    const base = { __pulsar_connect_error: "boom: column missing", app: "orders" };
    await producer.send({
      value: Buffer.from("from-b"),
      key: "k1",
      properties: { ...base, __pulsar_connect_origin_topic: topic("in-b") },
    });
    // A record whose origin names a topic that is not an input of the sink (anyone who can write the topic can set it).
    await producer.send({
      value: Buffer.from("forged"),
      properties: { ...base, __pulsar_connect_origin_topic: topic("victim") },
    });
    await producer.close();

    const peek = await http(
      worker.url,
      "GET",
      `${API}/deadletters/public/default/${run}-dl?limit=10`,
      undefined,
      as(PUBLIC_ONLY),
    );
    expect(peek.status, peek.text).toBe(200);
    const [view] = peek.json.topics;
    expect(view).toMatchObject({ topic: topic("dlq"), count: 2, capped: false });
    // Newest first; internal properties are shown as fields, not as properties.
    expect(view.messages.map((m: { value: string }) => m.value)).toEqual(["forged", "from-b"]);
    const fromB = view.messages[1];
    expect(fromB).toMatchObject({
      key: "k1",
      reason: "boom: column missing",
      originTopic: topic("in-b"),
      valueEncoding: "utf8",
    });
    expect(fromB.properties).toEqual({ app: "orders" });

    const replay = await http(
      worker.url,
      "POST",
      `${API}/deadletters/public/default/${run}-dl/replay`,
      { messageIds: view.messages.map((m: { id: string }) => m.id).concat("AAAA") },
      as(PUBLIC_ONLY),
    );
    expect(replay.status, replay.text).toBe(200);
    expect(replay.json.replayed).toEqual([{ id: fromB.id, topic: topic("in-b") }]);
    expect(replay.json.missing).toEqual(expect.arrayContaining([view.messages[0].id, "AAAA"]));
    await until(async () => (await readAll(topic("in-b"))).length === 1, 30_000, "replayed record on in-b");
    const [replayed] = await readAll(topic("in-b"));
    expect(replayed?.data).toBe("from-b");
    expect(replayed?.properties).toEqual({ app: "orders", __pulsar_connect_replayed_from: fromB.id });
    const victim = await http(adminUrl, "GET", `/admin/v2/persistent/public/default/${run}-victim/stats`);
    expect(victim.status).toBe(404);
  });

  it("gives a connector's latest log lines to roles of its tenant, after a given line", async () => {
    const path = `${API}/logs/sink/public/default/${run}-dl`;
    expect((await http(worker.url, "GET", path, undefined, as(OTHER_ONLY))).status).toBe(403);
    expect((await http(worker.url, "GET", `${path}?after=-1`, undefined, as(ADMIN))).status).toBe(400);
    const first = await http(worker.url, "GET", path, undefined, as(PUBLIC_ONLY));
    expect(first.json.available).toBe(true);
    const stop = first.json.lines.find((line: { message: string }) => line.message === "connector stop");
    expect(stop).toMatchObject({ level: "info", fields: { action: "stop" } });
    const last = first.json.lines.at(-1).seq;
    expect((await http(worker.url, "GET", `${path}?after=${last}`, undefined, as(ADMIN))).json.lines).toEqual([]);
    await http(worker.url, "POST", `/admin/v3/sinks/public/default/${run}-plain/restart`, undefined, as(ADMIN));
    // Lines of another connector do not show here.
    expect((await http(worker.url, "GET", `${path}?after=${last}`, undefined, as(ADMIN))).json.lines).toEqual([]);
  });

  it("keeps the admin API's own answers for paths under /admin/ and serves the console elsewhere", async () => {
    const unknown = await http(worker.url, "GET", "/admin/v3/nothing", undefined, as(ADMIN));
    expect(unknown.status).toBe(404);
    expect(unknown.json).toHaveProperty("reason");
    const page = await fetch(`${worker.url}/connectors/sink/public/default/x`);
    expect(page.status === 200 || page.status === 404).toBe(true);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  });
});
