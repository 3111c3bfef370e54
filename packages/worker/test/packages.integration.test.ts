import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { signToken, Worker, type WorkerOptions } from "../src/index.ts";
import { npmPack, writeArchiveSink } from "./fixtures/archive-sink.ts";
import { fixtureHost } from "./fixtures/host.ts";
import { sinkPackageJson, tarball } from "./fixtures/tar-writer.ts";
import { http, linesOf, testWorkerOptions, until } from "./helpers.ts";
import { javaAvailable, pulsarAdminClasspath } from "./pulsar-admin/classpath.ts";
import { runPulsarAdmin } from "./pulsar-admin/run-pulsar-admin.ts";

// Connector packages that are installed nowhere: uploaded by Apache Pulsar's Java pulsar-admin (multipart `data`
// part), fetched from http:// and file:// URLs, installed by the worker into its data folder and run from there.
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `pk${Date.now().toString(36)}`;
const SINKS = "/admin/v3/sinks/public/default";

let classpath: string;
let worker: Worker;
let dataDir: string;
let work: string;
let host: string;
let client: PulsarClient;
let v1: string;
let v2: string;
let clientConf: string;
const logs: string[] = [];

function options(extra: Partial<WorkerOptions> = {}): WorkerOptions {
  return { ...testWorkerOptions({ dataDir, hostDir: host, serviceUrl, adminUrl, logs }), ...extra };
}

function packageFolder(file: string): string {
  return join(dataDir, "packages", createHash("sha512").update(readFileSync(file)).digest("hex"));
}

function pulsarAdmin(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runPulsarAdmin(classpath, clientConf, worker.url, args);
}

async function publish(topic: string, values: string[]): Promise<void> {
  const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
  for (const value of values) await producer.send({ value });
  await producer.close();
}

function upload(file: Buffer | string, config: Record<string, unknown>): FormData {
  const form = new FormData();
  form.set("sinkConfig", JSON.stringify(config));
  const bytes = typeof file === "string" ? readFileSync(file) : file;
  form.set("data", new Blob([new Uint8Array(bytes)]), "connector.tgz");
  return form;
}

const runs = javaAvailable() || process.env.CI === "true";

describe("connector packages", { timeout: 300_000 }, () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-pkg-"));
    work = mkdtempSync(join(tmpdir(), "pulsar-connect-pkg-work-"));
    host = fixtureHost();
    clientConf = join(work, "client.conf");
    writeFileSync(clientConf, "");
    v1 = npmPack(writeArchiveSink(join(work, "v1"), { version: "1.0.0", label: "v1" }), join(work, "packed-v1"));
    v2 = npmPack(writeArchiveSink(join(work, "v2"), { version: "2.0.0", label: "v2" }), join(work, "packed-v2"));
    client = new PulsarClient({ serviceUrl });
    worker = await Worker.start(options({ fileDirs: [join(work, "allowed")] }));
  }, 300_000);

  afterAll(async () => {
    await worker?.close();
    await client?.close();
    for (const dir of [dataDir, work, host]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.runIf(runs)("uploaded by Apache Pulsar's pulsar-admin", () => {
    beforeAll(() => {
      if (!javaAvailable()) throw new Error("pulsar-admin compatibility needs `java` and `mvn` on PATH");
      classpath = pulsarAdminClasspath();
    }, 300_000);

    it("runs the uploaded package, replaces it on update, restores it after a restart, removes it on delete", async () => {
      const name = `${run}-up`;
      const topic = `${run}-up-in`;
      const out = join(work, "uploaded.txt");
      const created = await pulsarAdmin(
        "sinks",
        "create",
        "--name",
        name,
        "--archive",
        v1,
        "--inputs",
        topic,
        "--sink-config",
        JSON.stringify({ path: out }),
      );
      expect(created.stderr).not.toContain("Exception");
      expect(created.stdout.trim()).toBe("Created successfully");
      // Each pulsar-admin call starts a JVM; reads go through the same REST API directly.
      expect((await http(worker.url, "GET", `${SINKS}/${name}`)).json.archive).toBe(
        "upload://fixture-archive-sink@1.0.0",
      );
      expect(existsSync(join(packageFolder(v1), "node_modules", "fixture-archive-sink", "package.json"))).toBe(true);
      await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json?.numRunning === 1);
      await publish(topic, ["a", "b"]);
      await until(() => linesOf(out).length === 2, 30_000, "2 lines from v1");
      expect(linesOf(out)).toEqual(["v1:a", "v1:b"]);

      const updated = await pulsarAdmin("sinks", "update", "--name", name, "--archive", v2);
      expect(updated.stdout.trim()).toBe("Updated successfully");
      expect((await http(worker.url, "GET", `${SINKS}/${name}`)).json.archive).toBe(
        "upload://fixture-archive-sink@2.0.0",
      );
      expect(existsSync(packageFolder(v1))).toBe(false);
      expect(existsSync(packageFolder(v2))).toBe(true);
      await publish(topic, ["c"]);
      await until(() => linesOf(out).length === 3, 30_000, "a line from v2");
      expect(linesOf(out)[2]).toBe("v2:c");

      await worker.close();
      worker = await Worker.start(options({ fileDirs: [join(work, "allowed")] }));
      await until(async () => (await http(worker.url, "GET", `${SINKS}/${name}/status`)).json?.numRunning === 1);
      await publish(topic, ["d"]);
      await until(() => linesOf(out).length === 4, 30_000, "a line after the restart");
      expect(linesOf(out)[3]).toBe("v2:d");

      const deleted = await pulsarAdmin("sinks", "delete", "--name", name);
      expect(deleted.stdout.trim()).toBe("Deleted successfully");
      expect(existsSync(packageFolder(v2))).toBe(false);
    });
  });

  it("keeps one installed folder for connectors of the same package until the last is deleted", async () => {
    const config = (suffix: string) => ({
      inputs: [`${run}-shared-${suffix}`],
      configs: { path: join(work, "s.txt") },
    });
    // Sent at once: one install serves both, and the refused one (a bad config) must not remove it meanwhile.
    const [first, second, refused] = await Promise.all([
      http(worker.url, "POST", `${SINKS}/${run}-s1`, upload(v1, config("1"))),
      http(worker.url, "POST", `${SINKS}/${run}-s2`, upload(v1, config("2"))),
      http(worker.url, "POST", `${SINKS}/${run}-s3`, upload(v1, { ...config("3"), configs: {} })),
    ]);
    expect([first.status, second.status, refused.status]).toEqual([204, 204, 400]);
    expect(refused.json.issues).toEqual([expect.objectContaining({ path: "configs.path" })]);
    expect(existsSync(packageFolder(v1))).toBe(true);
    expect((await http(worker.url, "DELETE", `${SINKS}/${run}-s1`)).status).toBe(204);
    expect(existsSync(packageFolder(v1))).toBe(true);
    expect((await http(worker.url, "DELETE", `${SINKS}/${run}-s2`)).status).toBe(204);
    expect(existsSync(packageFolder(v1))).toBe(false);
  });

  it("fetches a package from an http:// URL and from a file:// URL inside fileDirs only", async () => {
    const server: Server = createServer((request, response) => {
      if (request.url !== "/fixture.tgz") {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": "application/gzip" }).end(readFileSync(v2));
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const port = (server.address() as AddressInfo).port;
    try {
      const url = `http://127.0.0.1:${port}/fixture.tgz`;
      const out = join(work, "from-url.txt");
      const topic = `${run}-url-in`;
      const created = await http(worker.url, "POST", `${SINKS}/${run}-url`, {
        archive: url,
        inputs: [topic],
        configs: { path: out },
      });
      expect(created.status).toBe(204);
      expect((await http(worker.url, "GET", `${SINKS}/${run}-url`)).json.archive).toBe(url);
      await until(async () => (await http(worker.url, "GET", `${SINKS}/${run}-url/status`)).json?.numRunning === 1);
      await publish(topic, ["x"]);
      await until(() => linesOf(out).length === 1, 30_000, "a line through the fetched package");
      expect(linesOf(out)).toEqual(["v2:x"]);
      const missing = await http(worker.url, "POST", `${SINKS}/${run}-url404`, {
        archive: `http://127.0.0.1:${port}/nothing.tgz`,
        inputs: [topic],
        configs: { path: out },
      });
      expect(missing.status).toBe(400);
      expect(missing.json.reason).toContain("HTTP 404");
      expect((await http(worker.url, "DELETE", `${SINKS}/${run}-url`)).status).toBe(204);
    } finally {
      server.close();
    }
    mkdirSync(join(work, "allowed"), { recursive: true });
    writeFileSync(join(work, "allowed", "p.tgz"), readFileSync(v1));
    const inside = await http(worker.url, "POST", `${SINKS}/${run}-file`, {
      archive: pathToFileURL(join(work, "allowed", "p.tgz")).href,
      inputs: [`${run}-file-in`],
      configs: { path: join(work, "f.txt") },
    });
    expect(inside.status).toBe(204);
    expect((await http(worker.url, "DELETE", `${SINKS}/${run}-file`)).status).toBe(204);
    const outside = await http(worker.url, "POST", `${SINKS}/${run}-outside`, {
      archive: pathToFileURL(v1).href,
      inputs: [`${run}-file-in`],
      configs: { path: join(work, "f.txt") },
    });
    expect(outside.status).toBe(403);
    expect(outside.json.reason).toContain("outside the worker's fileDirs");
  });

  it("refuses, with a 400 that says why: path traversal, a symlink out, no manifest, the wrong kind", async () => {
    const config = { inputs: [`${run}-bad`], configs: { path: join(work, "bad.txt") } };
    const post = async (bytes: Buffer) => await http(worker.url, "POST", `${SINKS}/${run}-bad`, upload(bytes, config));
    const traversal = await post(
      tarball([
        { path: "package/package.json", content: sinkPackageJson() },
        { path: "package/../../escape.js", content: "x" },
      ]),
    );
    expect(traversal.status).toBe(400);
    expect(traversal.json.reason).toContain("leaves the package folder");
    const symlink = await post(
      tarball([
        { path: "package/package.json", content: sinkPackageJson() },
        { path: "package/keys", type: "symlink", target: "../../../root/.ssh" },
      ]),
    );
    expect(symlink.status).toBe(400);
    expect(symlink.json.reason).toContain("symlink 'package/keys' points out of the package folder");
    const plain = await post(
      tarball([{ path: "package/package.json", content: JSON.stringify({ name: "left-pad", version: "1.0.0" }) }]),
    );
    expect(plain.status).toBe(400);
    expect(plain.json.reason).toContain('has no "pulsarConnector" manifest');
    const source = npmPack(
      writeArchiveSink(join(work, "as-source"), { version: "1.0.0", label: "s", kind: "source" }),
      join(work, "packed-source"),
    );
    const wrongKind = await post(readFileSync(source));
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.json.reason).toContain("fixture-archive-sink is a source connector ('archive-file'), not a sink");
    expect((await http(worker.url, "GET", `${SINKS}/${run}-bad`)).status).toBe(404);
  });

  it("answers 413 above maxPackageBytes, and 403 to those packageUploaders leaves out", async () => {
    const key = `secret-${run}-0123456789`;
    const secured = await Worker.start({
      ...options(),
      dataDir: join(dataDir, "secured"),
      maxPackageBytes: 256,
      auth: { jwtSecret: key, superUserRoles: ["admin"], tenantRoles: { public: ["ops"] } },
    });
    const none = await Worker.start({ ...options(), dataDir: join(dataDir, "none"), packageUploaders: "none" });
    const tenantAdmins = await Worker.start({
      ...options(),
      dataDir: join(dataDir, "tenant-admins"),
      packageUploaders: "tenant-admins",
      auth: { jwtSecret: key, superUserRoles: ["admin"], tenantRoles: { public: ["ops"] } },
    });
    try {
      const config = { inputs: [`${run}-limits`], configs: { path: join(work, "l.txt") } };
      const as = (sub: string) => ({ authorization: `Bearer ${signToken({ sub }, key)}` });
      const large = await http(secured.url, "POST", `${SINKS}/big`, upload(v1, config), as("admin"));
      expect(large.status).toBe(413);
      expect(large.json.reason).toContain("more than the worker's maxPackageBytes (256)");
      const tenantAdmin = await http(secured.url, "POST", `${SINKS}/ops`, upload(v1, config), as("ops"));
      expect(tenantAdmin.status).toBe(403);
      expect(tenantAdmin.json.reason).toContain("needs a superuser role");
      const byUrl = await http(
        secured.url,
        "POST",
        `${SINKS}/ops`,
        { ...config, archive: "http://127.0.0.1:1/x.tgz" },
        as("ops"),
      );
      expect(byUrl.status).toBe(403);
      const refused = await http(none.url, "POST", `${SINKS}/none`, upload(v1, config));
      expect(refused.status).toBe(403);
      expect(refused.json.reason).toContain("packageUploaders is none");
      const validated = await http(tenantAdmins.url, "POST", `${SINKS}/ops/validate`, upload(v1, config), as("ops"));
      expect(validated.status).toBe(200);
      expect(validated.json.config.archive).toBe("upload://fixture-archive-sink@1.0.0");
      const elsewhere = await http(
        tenantAdmins.url,
        "POST",
        "/admin/v3/sinks/other/default/ops",
        upload(v1, config),
        as("ops"),
      );
      expect(elsewhere.status).toBe(403);
    } finally {
      await secured.close();
      await none.close();
      await tenantAdmins.close();
    }
  });

  it("does not run a stored package whose tarball changed on disk, and says so in the status", async () => {
    const name = `${run}-tamper`;
    const created = await http(
      worker.url,
      "POST",
      `${SINKS}/${name}`,
      upload(v1, { inputs: [`${run}-t`], configs: { path: join(work, "t.txt") } }),
    );
    expect(created.status).toBe(204);
    await worker.close();
    const stored = join(packageFolder(v1), "package.tgz");
    writeFileSync(stored, readFileSync(v2));
    worker = await Worker.start(options({ fileDirs: [join(work, "allowed")] }));
    await until(async () =>
      String((await http(worker.url, "GET", `${SINKS}/${name}/status`)).json?.instances?.[0]?.status?.error).includes(
        "fails its integrity check",
      ),
    );
    expect((await http(worker.url, "DELETE", `${SINKS}/${name}`)).status).toBe(204);
  });
});
