import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "@pulsar-connect/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runCli } from "../src/internal/program.ts";

// The CLI's transform flags against a real worker that has the `transforms` function and the jdbc-sqlite sink installed
// (the worker package's own dependencies).
const services = inject("services");
const serviceUrl = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const adminUrl = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const run = `ct${Date.now().toString(36)}`;

let worker: Worker;
let dataDir: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  };
  const code = await runCli([...args, "--admin-url", worker.url, "--output", "json"], io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-cli-transforms-"));
  worker = await Worker.start({
    port: 0,
    dataDir,
    hostDirs: [join(import.meta.dirname, "..", "..", "worker")],
    preferSource: true,
    pulsarServiceUrl: serviceUrl,
    pulsarAdminUrl: adminUrl,
    logDestination: { write: () => undefined },
  });
});

afterAll(async () => {
  await worker?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const sink = (name: string, ...extra: string[]) => [
  "sinks",
  "create",
  "--name",
  name,
  "--sink-type",
  "jdbc-sqlite",
  "--inputs",
  `${name}-in`,
  "--sink-config",
  JSON.stringify({ jdbcUrl: `jdbc:sqlite:${join(dataDir, "x.db")}`, tableName: "t" }),
  ...extra,
];

describe("pulsar-connect sinks create --transform-function", () => {
  it("stores the function, its class name and its config as given", async () => {
    const config = '{"steps":[{"type":"drop-fields","fields":"password"}]}';
    const created = await cli([
      ...sink(`${run}-ok`),
      "--transform-function",
      "builtin://transforms",
      "--transform-function-classname",
      "@pulsar-connect/function-transforms",
      "--transform-function-config",
      config,
    ]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const got = await cli(["sinks", "get", "--name", `${run}-ok`]);
    expect(JSON.parse(got.stdout)).toMatchObject({
      transformFunction: "builtin://transforms",
      transformFunctionClassName: "@pulsar-connect/function-transforms",
      transformFunctionConfig: config,
    });
    const invalid = await cli([
      "sinks",
      "update",
      "--name",
      `${run}-ok`,
      "--transform-function-config",
      '{"steps":[{"type":"drop-fields"}]}',
    ]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("transformFunctionConfig.steps.0.fields");
    const changed = '{"steps":[{"type":"flatten","delimiter":"."}]}';
    expect((await cli(["sinks", "update", "--name", `${run}-ok`, "--transform-function-config", changed])).code).toBe(
      0,
    );
    expect(JSON.parse((await cli(["sinks", "get", "--name", `${run}-ok`])).stdout).transformFunctionConfig).toBe(
      changed,
    );
    expect((await cli(["sinks", "delete", "--name", `${run}-ok`])).code).toBe(0);
  });

  it("exits 2 naming the field for an unknown function, a bad config and a config without a function", async () => {
    const missing = await cli([...sink(`${run}-x`), "--transform-function", "builtin://mapper"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("transformFunction: function 'mapper' is not installed");
    const badJson = await cli([
      ...sink(`${run}-x`),
      "--transform-function",
      "transforms",
      "--transform-function-config",
      "{",
    ]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("transformFunctionConfig: is not valid JSON");
    const badStep = await cli([
      ...sink(`${run}-x`),
      "--transform-function",
      "transforms",
      "--transform-function-config",
      '{"steps":[{"type":"flatten","delimiter":1}]}',
    ]);
    expect(badStep.code).toBe(2);
    expect(badStep.stderr).toContain("transformFunctionConfig.steps.0.delimiter");
    const orphan = await cli([...sink(`${run}-x`), "--transform-function-config", "{}"]);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toContain("transformFunctionConfig: needs transformFunction");
  });
});

describe("pulsar-connect sinks localrun --transform-function", () => {
  it("checks the function against the packages it discovers before running anything", async () => {
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, env: {} };
    let stderr = "";
    const args = (...extra: string[]) => [
      "sinks",
      "localrun",
      "--connectors-dir",
      join(import.meta.dirname, "..", "..", "worker"),
      "--broker-service-url",
      serviceUrl,
      ...sink(`${run}-local`).slice(2),
      ...extra,
    ];
    expect(await runCli(args("--transform-function", "builtin://mapper"), io)).toBe(2);
    expect(stderr).toContain(
      "transformFunction: function 'mapper' is not installed -- available functions are: [transforms]",
    );
    stderr = "";
    expect(
      await runCli(
        args("--transform-function", "transforms", "--transform-function-config", '{"steps":[{"type":"cast"}]}'),
        io,
      ),
    ).toBe(2);
    expect(stderr).toContain("transformFunctionConfig.steps.0.schema-type");
  });
});
