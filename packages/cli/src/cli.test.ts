import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CliError } from "./errors.ts";
import { buildConfig } from "./internal/config-build.ts";
import { runCli } from "./internal/program.ts";

const dir = mkdtempSync(join(tmpdir(), "pulsar-connect-cli-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  let stdout = "";
  let stderr = "";
  return {
    io: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
    },
    out: () => stdout,
    err: () => stderr,
  };
}

describe("buildConfig", () => {
  it("maps pulsar-admin sink flags onto SinkConfig fields", () => {
    const config = buildConfig(
      "sink",
      {
        name: "s",
        sinkType: "jdbc-sqlite",
        inputs: "a, b",
        subsName: "sub",
        subsPosition: "earliest",
        processingGuarantees: "effectively_once",
        parallelism: "3",
        retainOrdering: true,
        autoAck: false,
        timeoutMs: "5000",
        maxRedeliverCount: "4",
        deadLetterTopic: "dlq",
        negativeAckRedeliveryDelayMs: "100",
        cleanupSubscription: false,
        sinkConfig: '{"jdbcUrl":"jdbc:sqlite::memory:"}',
        secrets: '{"password":{"env":"DB_PASSWORD"}}',
        ram: "1024",
      },
      true,
    );
    expect(config).toEqual({
      tenant: "public",
      namespace: "default",
      name: "s",
      archive: "builtin://jdbc-sqlite",
      inputs: ["a", "b"],
      sourceSubscriptionName: "sub",
      sourceSubscriptionPosition: "Earliest",
      processingGuarantees: "EFFECTIVELY_ONCE",
      parallelism: 3,
      retainOrdering: true,
      autoAck: false,
      timeoutMs: 5000,
      maxMessageRetries: 4,
      deadLetterTopic: "dlq",
      negativeAckRedeliveryDelayMs: 100,
      cleanupSubscription: false,
      configs: { jdbcUrl: "jdbc:sqlite::memory:" },
      secrets: { password: { env: "DB_PASSWORD" } },
      resources: { ram: 1024 },
    });
  });

  it("reads a YAML config file and lets flags override it; update leaves unset fields out", () => {
    const file = join(dir, "source.yaml");
    writeFileSync(
      file,
      "sourceType: data-generator\ntopicName: from-file\nparallelism: 2\nconfigs:\n  maxRecords: 10\n",
    );
    const config = buildConfig(
      "source",
      { sourceConfigFile: file, destinationTopicName: "from-flag", name: "g" },
      false,
    );
    expect(config).toEqual({
      name: "g",
      archive: "builtin://data-generator",
      topicName: "from-flag",
      parallelism: 2,
      configs: { maxRecords: 10 },
    });
    expect(buildConfig("sink", { name: "s", processingGuarantees: "ATMOST_ONCE" }, false)).toEqual({
      name: "s",
      processingGuarantees: "ATMOST_ONCE",
    });
  });

  it("refuses what cannot work, saying which flag is wrong", () => {
    const refuse = (kind: "sink" | "source", options: Record<string, unknown>) => {
      try {
        buildConfig(kind, options, true);
      } catch (error) {
        expect(error).toBeInstanceOf(CliError);
        return (error as CliError).message;
      }
      throw new Error("accepted");
    };
    expect(refuse("sink", { archive: "builtin://a", sinkType: "a" })).toBe("Cannot specify both archive and sink-type");
    expect(refuse("sink", { archive: "/nonexistent/connector.tgz" })).toBe(
      "Archive file /nonexistent/connector.tgz does not exist",
    );
    expect(refuse("sink", { archive: "function://public/default/f@1" })).toContain(
      "function:// scheme is not supported",
    );
    expect(refuse("sink", { parallelism: "0" })).toContain("--parallelism must be an integer >= 1");
    expect(refuse("sink", { processingGuarantees: "TWICE" })).toContain("--processing-guarantees must be one of");
    expect(refuse("sink", { sinkConfig: "{nope" })).toBe("--sink-config is not valid JSON");
    expect(refuse("sink", { sinkConfig: "[1]" })).toBe("--sink-config must be a JSON object");
    expect(refuse("sink", { subsPosition: "middle" })).toContain("--subs-position must be Latest or Earliest");
    expect(refuse("source", { batchBuilder: "FAST" })).toContain("--batch-builder must be DEFAULT or KEY_BASED");
    expect(refuse("source", { sourceConfigFile: join(dir, "missing.yaml") })).toContain("does not exist");
  });
});

describe("runCli", () => {
  it("accepts pulsar-admin's hidden camelCase flag spellings", async () => {
    const run = capture();
    // No worker listens on port 9: the command gets as far as the request, after parsing every flag.
    const code = await runCli(
      [
        "sinks",
        "create",
        "--name",
        "n",
        "--sinkType",
        "x",
        "--sinkConfig",
        "{bad",
        "--admin-url",
        "http://127.0.0.1:9",
      ],
      run.io,
    );
    expect(code).toBe(2);
    expect(run.err()).toContain("--sink-config is not valid JSON");
  });

  it("prints help and exits 0; exits 2 on usage errors before contacting any worker", async () => {
    const help = capture();
    expect(await runCli(["--help"], help.io)).toBe(0);
    expect(help.out()).toContain("sinks|sink");
    const unknown = capture();
    expect(await runCli(["sinks", "explode"], unknown.io)).toBe(2);
    const instance = capture();
    expect(await runCli(["sinks", "status", "--name", "x", "--instance-id", "one"], instance.io)).toBe(2);
    expect(instance.err()).toContain("instance-id must be a number");
    const noName = capture();
    expect(await runCli(["sources", "get"], noName.io)).toBe(2);
    expect(noName.err()).toContain("You must specify a name for the source");
    const output = capture();
    expect(await runCli(["--output", "xml", "sinks", "list"], output.io)).toBe(2);
  });
});
