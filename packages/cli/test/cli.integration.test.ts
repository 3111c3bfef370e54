import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { signToken } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fixtureHost } from "../../worker/test/fixtures/host.ts";
import { linesOf, runCommand, subscriptionStats, until } from "../../worker/test/helpers.ts";
import { runCli } from "../src/internal/program.ts";

const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const BIN = join(import.meta.dirname, "..", "bin", "pulsar-connect.js");
const run = `c${Date.now().toString(36)}`;
const JWT_SECRET = `jwt-secret-${run}`;
const ADMIN_TOKEN = `admin-token-${run}`;
const OPS_TOKEN = signToken({ sub: "ops" }, JWT_SECRET);
const PASSWORD = `pw-${run}-never-printed`;
const SECRET = `secret-${run}-never-printed`;

let host: string;
let dataDir: string;
let outDir: string;
let port = 0;
let workerProcess: ChildProcess;
let workerExit: Promise<number | null>;
let workerLogs = "";
const printed: string[] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const result = await runCommand(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      PULSAR_CONNECT_ADMIN_URL: `http://127.0.0.1:${port}`,
      PULSAR_CONNECT_TOKEN: ADMIN_TOKEN,
      ...env,
    },
  });
  printed.push(result.stdout, result.stderr);
  return result;
}

async function startWorker(): Promise<void> {
  const logsBefore = workerLogs.length;
  const config = join(dataDir, "worker.yaml");
  writeFileSync(
    config,
    [
      `pulsarServiceUrl: ${serviceUrl}`,
      `pulsarAdminUrl: ${adminUrl}`,
      "auth:",
      "  tokens:",
      `    - token: ${ADMIN_TOKEN}`,
      "      role: admin",
      `  jwtSecret: ${JWT_SECRET}`,
      "  superUserRoles: [admin]",
      "",
    ].join("\n"),
  );
  workerProcess = spawn(
    process.execPath,
    [BIN, "worker", "--config", config, "--port", String(port), "--data-dir", dataDir, "--connectors-dir", host],
    { env: { ...process.env } },
  );
  workerProcess.stdout?.on("data", (chunk) => {
    workerLogs += chunk;
  });
  workerProcess.stderr?.on("data", (chunk) => {
    workerLogs += chunk;
  });
  workerExit = new Promise((done) => workerProcess.on("exit", (code) => done(code)));
  // Only this start's log counts: after a restart the earlier "worker started" line is still in workerLogs.
  await until(() => workerLogs.slice(logsBefore).includes('"msg":"worker started"'), 30_000, "worker started");
  // The first start binds port 0 (no probe-then-bind race); a restart binds the port the worker got then.
  const url = /"url":"http:\/\/[^":]+:(\d+)"[^\n]*"msg":"worker started"/.exec(workerLogs.slice(logsBefore));
  if (url === null) throw new Error("the worker did not log its URL");
  port = Number(url[1]);
}

async function stopWorker(): Promise<number | null> {
  workerProcess.kill("SIGTERM");
  return workerExit;
}

async function publish(topic: string, values: string[]): Promise<void> {
  const client = new PulsarClient({ serviceUrl });
  const producer = await client.createProducer({ topic: `persistent://public/default/${topic}` });
  for (const value of values) await producer.send({ value });
  await producer.close();
  await client.close();
}

beforeAll(async () => {
  host = fixtureHost();
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-cli-"));
  outDir = mkdtempSync(join(tmpdir(), "pulsar-connect-cli-out-"));
  await startWorker();
});

afterAll(async () => {
  if (workerProcess && workerProcess.exitCode === null) await stopWorker();
  rmSync(host, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

const topic = `${run}-cli`;
const sinkName = `${run}-sink`;
const sourceName = `${run}-source`;
const file = () => join(outDir, "sink.txt");

describe("pulsar-connect CLI against a worker and a real broker", () => {
  it("rejects missing and invalid tokens (401) and reload by a non-superuser (403)", async () => {
    const anonymous = await cli(["sinks", "list"], { PULSAR_CONNECT_TOKEN: "" });
    expect(anonymous.code).toBe(4);
    expect(anonymous.stderr).toContain("Authentication required");
    expect(anonymous.stderr).toContain("--token");
    const bad = await cli(["sinks", "list", "--token", "not-a-valid-token"]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain("Authentication failed");
    const ops = await cli(["sinks", "list", "--token", OPS_TOKEN]);
    expect(ops.code).toBe(0);
    const reload = await cli(["sinks", "reload", "--token", OPS_TOKEN]);
    expect(reload.code).toBe(4);
    expect(reload.stderr).toContain("not a superuser");
    const asAdmin = await cli(["sinks", "reload"]);
    expect(asAdmin.code).toBe(0);
    // Like pulsar-admin, nothing on stdout when it is not a terminal; the summary goes to stderr.
    expect(asAdmin.stdout).toBe("");
    expect(asAdmin.stderr).toContain("Reloaded successfully");
    expect((await cli(["sources", "reload", "--output", "table"])).stdout).toContain("unchanged [");
  });

  it("lists the available connectors as a table and as JSON", async () => {
    const sinks = await cli(["sinks", "available-sinks", "--output", "table"]);
    expect(sinks.code).toBe(0);
    expect(sinks.stdout).toMatch(/^NAME\s+PACKAGE\s+DESCRIPTION\ntest-file\s+fixture-file-sink\s+Test sink/);
    const sources = await cli(["source", "available-sources", "--output", "json"]);
    expect(JSON.parse(sources.stdout)).toEqual([expect.objectContaining({ name: "test-counter" })]);
  });

  it("creates a source from a YAML file and a sink from flags; data flows; get shows defaults, no secrets", async () => {
    const yamlFile = join(outDir, "source.yaml");
    writeFileSync(
      yamlFile,
      `sourceType: test-counter\nconfigs:\n  count: 25\n  intervalMs: 5\n  apiKey: ${PASSWORD}\n`,
    );
    const source = await cli([
      "sources",
      "create",
      "--name",
      sourceName,
      "--source-config-file",
      yamlFile,
      "--destination-topic-name",
      topic,
    ]);
    expect(source.stderr).toBe("");
    expect(source.stdout).toBe("Created successfully\n");
    const sink = await cli([
      "sinks",
      "create",
      "--tenant",
      "public",
      "--namespace",
      "default",
      "--name",
      sinkName,
      "-t",
      "test-file",
      "--inputs",
      topic,
      "--subs-position",
      "Earliest",
      "--sink-config",
      JSON.stringify({ path: file(), password: PASSWORD }),
      "--secrets",
      JSON.stringify({ other: SECRET }),
    ]);
    expect(sink.stdout).toBe("Created successfully\n");
    await until(() => linesOf(file()).length >= 25, 60_000, "25 records written");
    const get = await cli(["sinks", "get", "--name", sinkName]);
    const config = JSON.parse(get.stdout);
    expect(config).toMatchObject({
      tenant: "public",
      namespace: "default",
      name: sinkName,
      processingGuarantees: "ATLEAST_ONCE",
      parallelism: 1,
      archive: "builtin://test-file",
      configs: { password: "********" },
      secrets: { other: "********" },
    });
    const list = await cli(["sinks", "list"]);
    expect(list.stdout).toContain(sinkName);
    expect(JSON.parse((await cli(["sources", "list", "--output", "json"])).stdout)).toContain(sourceName);
    const status = await cli(["sinks", "status", "--name", sinkName, "--output", "table"]);
    expect(status.stdout).toMatch(
      /instances: 1, running: 1\nINSTANCE\s+RUNNING\s+RESTARTS\s+IN\s+OUT\s+ERRORS\s+STATE\n0\s+yes\s+0\s+25\s+25\s+0\s+running/,
    );
    const sourceStatus = JSON.parse(
      (await cli(["sources", "getstatus", "--name", sourceName, "--output", "json"])).stdout,
    );
    expect(sourceStatus.instances[0].status.numWritten).toBe(25);
  });

  it("updates the processing guarantee ATLEAST_ONCE -> ATMOST_ONCE -> EFFECTIVELY_ONCE", async () => {
    expect((await subscriptionStats(adminUrl, topic, `public/default/${sinkName}`))?.type).toBe("Shared");
    const atMost = await cli(["sinks", "update", "--name", sinkName, "--processing-guarantees", "ATMOST_ONCE"]);
    expect(atMost.stdout).toBe("Updated successfully\n");
    expect(JSON.parse((await cli(["sinks", "get", "--name", sinkName])).stdout).processingGuarantees).toBe(
      "ATMOST_ONCE",
    );
    const effectively = await cli([
      "sinks",
      "update",
      "--name",
      sinkName,
      "--processing-guarantees",
      "EFFECTIVELY_ONCE",
    ]);
    expect(effectively.stdout).toBe("Updated successfully\n");
    await until(
      async () => {
        const stats = await subscriptionStats(adminUrl, topic, `public/default/${sinkName}`);
        return stats?.type === "Failover" && stats.consumers.length === 1;
      },
      30_000,
      "Failover subscription",
    );
    await publish(topic, ["under-effectively-once"]);
    await until(() => linesOf(file()).includes("under-effectively-once"), 30_000, "written under EFFECTIVELY_ONCE");
    const same = await cli(["sinks", "update", "--name", sinkName, "--processing-guarantees", "EFFECTIVELY_ONCE"]);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain("Update contains no change");
  });

  it("stops, starts and restarts single instances", async () => {
    expect((await cli(["sinks", "update", "--name", sinkName, "--parallelism", "2"])).code).toBe(0);
    await until(
      async () =>
        JSON.parse((await cli(["sinks", "status", "--name", sinkName, "--output", "json"])).stdout).numRunning === 2,
      30_000,
      "2 running",
    );
    expect((await cli(["sinks", "stop", "--name", sinkName, "--instance-id", "1"])).stdout).toBe(
      "Stopped successfully\n",
    );
    const one = JSON.parse(
      (await cli(["sinks", "status", "--name", sinkName, "--instance-id", "1", "--output", "json"])).stdout,
    );
    expect(one).toMatchObject({ running: false, state: "stopped" });
    expect((await cli(["sinks", "start", "--name", sinkName, "--instance-id", "1"])).stdout).toBe(
      "Started successfully\n",
    );
    expect((await cli(["sinks", "restart", "--name", sinkName, "--instance-id", "0"])).stdout).toBe(
      "Restarted successfully\n",
    );
    expect((await cli(["sinks", "restart", "--name", sinkName])).stdout).toBe("Restarted successfully\n");
    await until(
      async () =>
        JSON.parse((await cli(["sinks", "status", "--name", sinkName, "--output", "json"])).stdout).numRunning === 2,
      30_000,
      "2 running again",
    );
    expect((await cli(["sources", "stop", "--name", sourceName])).stdout).toBe("Stopped successfully\n");
    expect((await cli(["sources", "start", "--name", sourceName])).stdout).toBe("Started successfully\n");
  });

  it("gives actionable errors with non-zero exit codes", async () => {
    const missing = await cli(["sinks", "get", "--name", "ghost"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain("Sink ghost doesn't exist");
    const invalid = await cli([
      "sinks",
      "create",
      "--name",
      `${run}-bad`,
      "-t",
      "test-file",
      "--inputs",
      topic,
      "--sink-config",
      '{"failOpen":"x"}',
    ]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("  - configs.path:");
    expect(invalid.stderr).toContain("  - configs.failOpen:");
    const validation = await cli([
      "sinks",
      "validate",
      "--name",
      `${run}-v`,
      "-t",
      "test-file",
      "--inputs",
      topic,
      "--sink-config",
      "{}",
    ]);
    expect(validation.code).toBe(2);
    expect(validation.stderr).toContain("  - configs.path:");
    const valid = await cli([
      "sinks",
      "validate",
      "--name",
      `${run}-v`,
      "-t",
      "test-file",
      "--inputs",
      topic,
      "--sink-config",
      '{"path":"/tmp/x"}',
    ]);
    expect(valid.stdout).toContain("Valid: sink config with defaults applied:");
    expect(valid.stdout).toContain('"processingGuarantees": "ATLEAST_ONCE"');
    expect(JSON.parse((await cli(["sinks", "list", "--output", "json"])).stdout)).not.toContain(`${run}-v`);
    const badType = await cli(["sinks", "create", "--name", `${run}-bad`, "-t", "nope", "--inputs", topic]);
    expect(badType.stderr).toContain("Invalid sink type 'nope' -- Available sinks are: [test-file, test-records]");
    const badJson = await cli(["sinks", "create", "--name", `${run}-bad`, "-t", "test-file", "--sink-config", "{oops"]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("--sink-config is not valid JSON");
    const immutable = await cli(["sinks", "update", "--name", sinkName, "--inputs", "another-topic"]);
    expect(immutable.stderr).toContain("inputs: Input Topics cannot be altered");
    const instance = await cli(["sinks", "status", "--name", sinkName, "--instance-id", "x"]);
    expect(instance.stderr).toContain("instance-id must be a number");
    const noName = await cli(["sinks", "delete"]);
    expect(noName.stderr).toContain("You must specify a name for the sink");
    const unreachable = await cli(["sinks", "list", "--admin-url", "http://127.0.0.1:9"]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain("Start one with `pulsar-connect worker`");
  });

  it("keeps connectors across a worker restart", async () => {
    expect(await stopWorker()).toBe(0);
    expect(workerLogs).toContain('"msg":"worker stopped"');
    await publish(topic, ["while-the-worker-was-down"]);
    await startWorker();
    await until(() => linesOf(file()).includes("while-the-worker-was-down"), 30_000, "resumed after restart");
    const config = JSON.parse((await cli(["sinks", "get", "--name", sinkName])).stdout);
    expect(config).toMatchObject({ processingGuarantees: "EFFECTIVELY_ONCE", parallelism: 2 });
    expect(
      JSON.parse((await cli(["sinks", "status", "--name", sinkName, "--output", "json"])).stdout).numInstances,
    ).toBe(2);
  });

  it("prints the warnings of an answer, and refuses what cannot work with exit 2 naming the option", async () => {
    const name = `${run}-opts`;
    const created = await cli([
      "sinks",
      "create",
      "--name",
      name,
      "-t",
      "test-file",
      "--custom-schema-inputs",
      JSON.stringify({ [`${run}-opts-in`]: "STRING" }),
      "--cpu",
      "2",
      "--sink-config",
      JSON.stringify({ path: join(outDir, "opts.txt") }),
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toBe("Created successfully\n");
    expect(created.stderr).toContain("Warning: resources.cpu: recorded and shown, but not enforced");
    const shown = JSON.parse((await cli(["sinks", "get", "--name", name])).stdout);
    expect(shown).toMatchObject({ inputs: [`persistent://public/default/${run}-opts-in`], resources: { cpu: 2 } });
    const authData = await cli(["sinks", "update", "--name", name, "--parallelism", "2", "--update-auth-data"]);
    expect(authData.code).toBe(2);
    expect(authData.stderr).toContain("--update-auth-data is not supported");
    // In this process (a spawned CLI per case would take a second each): every case stops before any broker call.
    const refused = async (args: string[], expected: string) => {
      let stderr = "";
      const io = {
        stdout: { write: () => true },
        stderr: { write: (text: string) => (stderr += text) },
        env: { PULSAR_CONNECT_ADMIN_URL: `http://127.0.0.1:${port}`, PULSAR_CONNECT_TOKEN: ADMIN_TOKEN },
      };
      expect(await runCli(args, io), stderr).toBe(2);
      expect(stderr).toContain(expected);
    };
    const source = ["sources", "create", "--name", `${run}-src`, "-t", "test-counter", "-o", `${run}-src-out`];
    await refused([...source, "-st", "com.acme.PersonSchema"], "schemaType: 'com.acme.PersonSchema' is not supported");
    await refused([...source, "--deserialization-classname", "com.acme.Serde"], "serdeClassName: is not supported");
    await refused([...source, "--batch-source-config", '{"discoveryTriggererClassName":"T"}'], "batchSourceConfig");
    await refused([...source, "--producer-config", '{"cryptoConfig":{}}'], "producerConfig.cryptoConfig");
    await refused([...source, "--runtime-flags", "-Xmx1g"], "runtimeFlags: '-Xmx1g' is not a Node option");
    await refused(
      [...source, "--runtime-flags", "--stack-trace-limit=5"],
      "runtimeFlags: is not supported by the in-process runtime",
    );
    await refused(
      [...source, "--custom-runtime-options", '{"jobNamespace":"x"}'],
      "customRuntimeOptions.jobNamespace: is not supported",
    );
    await refused(
      ["sources", "create", "--name", `${run}-src`, "-o", `${run}-src-out`, "--archive", "/nonexistent/connector.tgz"],
      "Archive file /nonexistent/connector.tgz does not exist",
    );
    const sink = ["sinks", "create", "--name", `${run}-snk`, "-t", "test-file", "--sink-config", '{"path":"/tmp/x"}'];
    await refused(
      [...sink, "--custom-serde-inputs", '{"a":"com.acme.Serde"}'],
      "topicToSerdeClassName.a: is not supported",
    );
    await refused([...sink, "-i", "a", "--topics-pattern", "b.*"], "topicsPattern: must start with");
    await refused(
      [...sink, "-i", "a", "--processing-guarantees", "ATMOST_ONCE", "--auto-ack", "false"],
      "autoAck: must be",
    );
    const local = ["sources", "localrun", "-t", "test-counter", "-o", `${run}-never`, "--connectors-dir", host];
    await refused(
      [...local, "--client-auth-plugin", "org.apache.pulsar.client.impl.auth.AuthenticationSasl"],
      "--client-auth-plugin/--client-auth-params: authPlugin org.apache.pulsar.client.impl.auth.AuthenticationSasl is not supported",
    );
    await refused(
      [...local, "--client-auth-plugin", "org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2"],
      "authParams of org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2: must be a JSON object",
    );
    await refused([...local, "--use_tls", "--brokerServiceUrl", serviceUrl], "--use-tls needs a pulsar+ssl://");
    await refused(
      [...local, "--hostname-verification-enabled"],
      "--hostname-verification-enabled needs a pulsar+ssl://",
    );
    await refused(
      [...local, "--secrets-provider-classname", "com.acme.Vault"],
      "--secrets-provider-classname is not supported",
    );
    await refused([...local, "--use-tls", "--broker-service-url", serviceUrl], "--use-tls needs a pulsar+ssl://");
    await refused(
      [...local, "--state-storage-service-url", "bk://localhost:4181"],
      "--state-storage-service-url is not supported",
    );
    await refused([...local, "--runtime-flags", "--stack-trace-limit=5"], "runtimeFlags: is not supported by localrun");
    await refused(
      [...local, "--custom-runtime-options", '{"runtime":"process"}'],
      "customRuntimeOptions.runtime: localrun runs instances in this process",
    );
    await refused(
      [...local, "--clientAuthPlugin", "AuthenticationToken", "--clientAuthParams", "file:///nonexistent/token"],
      "token file: cannot read /nonexistent/token",
    );
    const warned = await cli([
      ...local,
      "--source-config",
      JSON.stringify({ count: 1 }),
      "--ram",
      "1048576",
      "--broker-service-url",
      serviceUrl,
      "--web-service-url",
      adminUrl,
    ]);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toContain("Warning: resources.ram: recorded and shown, but not enforced");
  });

  it("deletes connectors", async () => {
    expect((await cli(["sinks", "delete", "--name", sinkName])).stdout).toBe("Deleted successfully\n");
    expect((await cli(["sources", "delete", "--name", sourceName])).stdout).toBe("Delete source successfully\n");
    expect(JSON.parse((await cli(["sinks", "list", "--output", "json"])).stdout)).not.toContain(sinkName);
  });

  it("localrun runs a source until exhausted and a sink until interrupted, with progress and a summary", async () => {
    const localTopic = `${run}-local`;
    const source = await cli([
      "sources",
      "localrun",
      "-t",
      "test-counter",
      "--source-config",
      JSON.stringify({ count: 30, intervalMs: 50 }),
      "--destination-topic-name",
      localTopic,
      "--broker-service-url",
      serviceUrl,
      "--web-service-url",
      adminUrl,
      "--connectors-dir",
      host,
    ]);
    expect(source.code).toBe(0);
    expect(source.stderr).toContain(
      "Summary (finished: the source has no more records): 30 records in, 30 out, 0 errors",
    );
    const localFile = join(outDir, "local.txt");
    const child = spawn(process.execPath, [
      BIN,
      "sinks",
      "localrun",
      "-t",
      "test-file",
      "--inputs",
      localTopic,
      "--subs-position",
      "Earliest",
      "--sink-config",
      JSON.stringify({ path: localFile, password: PASSWORD }),
      "--broker-service-url",
      serviceUrl,
      "--connectors-dir",
      host,
    ]);
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    await until(() => linesOf(localFile).length >= 30, 30_000, "30 records written by localrun");
    await until(
      () => /\[\d+s\] sink public\/default\/test-file: in \d+\/s, out \d+\/s, total in 30, out 30/.test(stderr),
      10_000,
      "progress line",
    );
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toContain("Summary (interrupted): 30 records in, 30 out, 0 errors");
    printed.push(stderr);
  });

  it("never prints a secret, neither in CLI output nor in the worker's logs", async () => {
    // Self-contained: its own sink with a sensitive field and a secret, read back through every command that shows
    // a connector, so the check does not depend on what earlier tests printed.
    const name = `${run}-leak`;
    const created = await cli([
      "sinks",
      "create",
      "--name",
      name,
      "-t",
      "test-file",
      "--inputs",
      `${run}-leak`,
      "--sink-config",
      JSON.stringify({ path: join(outDir, "leak.txt"), password: PASSWORD }),
      "--secrets",
      JSON.stringify({ other: SECRET }),
    ]);
    expect(created.stdout).toBe("Created successfully\n");
    await until(
      async () => (await cli(["sinks", "status", "--name", name, "--output", "table"])).stdout.includes("running"),
      30_000,
      "running",
    );
    const shown = [
      await cli(["sinks", "get", "--name", name]),
      await cli(["sinks", "get", "--name", name, "--output", "json"]),
      await cli(["sinks", "status", "--name", name, "--output", "json"]),
      await cli(["sinks", "list"]),
    ];
    expect(shown.map((result) => result.code)).toEqual([0, 0, 0, 0]);
    expect(shown[0]?.stdout).toContain("********");
    expect(workerLogs).toContain(name);
    expect((await cli(["sinks", "delete", "--name", name])).code).toBe(0);
    for (const text of [...printed, workerLogs]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(ADMIN_TOKEN);
    }
  });
});

declare module "vitest" {
  export interface ProvidedContext {
    services: { pulsar?: { serviceUrl: string; webServiceUrl: string } };
  }
}
