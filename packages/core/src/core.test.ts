import { describe, expect, it } from "vitest";
import {
  ConnectorError,
  compatOnly,
  compatOnlyKeys,
  compatWarnings,
  configFieldDefinitions,
  configJsonSchema,
  connectorManifestSchema,
  defineSink,
  defineSource,
  isSinkDefinition,
  isSourceDefinition,
  loadConfig,
  parseConfig,
  REDACTED,
  readConnectorManifest,
  redactConfig,
  sensitive,
  sensitiveFields,
  sinkSubscriptionType,
  toConnectorError,
  z,
} from "./index.ts";

const schema = z.object({
  jdbcUrl: z.string().min(1).describe("JDBC url of the database"),
  password: sensitive(z.string().optional()).describe("database password"),
  batchSize: z.number().int().positive().default(200).describe("rows per statement"),
  insertMode: z.enum(["INSERT", "UPSERT", "UPDATE"]).default("INSERT"),
});

describe("config schemas", () => {
  it("applies defaults and reports every invalid field with its path", () => {
    const ok = parseConfig(schema, { jdbcUrl: "postgres://x" });
    expect(ok).toEqual({ ok: true, value: { jdbcUrl: "postgres://x", batchSize: 200, insertMode: "INSERT" } });
    const bad = parseConfig(schema, { batchSize: -1, insertMode: "MERGE" });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.issues.map((issue) => issue.path).sort()).toEqual([
      "configs.batchSize",
      "configs.insertMode",
      "configs.jdbcUrl",
    ]);
  });

  it("rejects a config that is not an object", () => {
    const bad = parseConfig(schema, "jdbc:postgresql://x");
    expect(bad).toEqual({ ok: false, issues: [{ path: "configs", message: "must be an object" }] });
  });

  it("resolves sensitive fields from secrets and redacts them", () => {
    expect(sensitiveFields(schema)).toEqual(["password"]);
    const value = loadConfig(schema, { jdbcUrl: "u", password: "inline" }, (name) =>
      name === "password" ? "from-secret" : undefined,
    );
    expect(value.password).toBe("from-secret");
    expect(redactConfig(schema, value)).toMatchObject({ jdbcUrl: "u", password: REDACTED });
  });

  it("throws INVALID_CONFIG with field issues from loadConfig", () => {
    try {
      loadConfig(schema, {});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe("INVALID_CONFIG");
      expect((error as ConnectorError).issues[0]?.path).toBe("configs.jdbcUrl");
      expect((error as ConnectorError).message).toContain("configs.jdbcUrl");
    }
  });

  it("describes fields the way Pulsar's configdefinition endpoint does", () => {
    const fields = configFieldDefinitions(schema);
    expect(fields.find((f) => f.fieldName === "batchSize")).toEqual({
      fieldName: "batchSize",
      typeName: "integer",
      attributes: { required: "false", defaultValue: "200", sensitive: "false", help: "rows per statement" },
    });
    expect(fields.find((f) => f.fieldName === "jdbcUrl")?.attributes.required).toBe("true");
    expect(fields.find((f) => f.fieldName === "password")?.attributes.sensitive).toBe("true");
    expect(configJsonSchema(schema)).toMatchObject({ type: "object", required: ["jdbcUrl"] });
  });

  it("warns about every compatOnly field and key the user set, and accepts them", () => {
    const kafka = z.object({
      topic: z.string(),
      keySerializerClass: compatOnly(z.string().optional(), "keys are written as UTF-8").describe("Key serializer"),
      autoCommitEnabled: compatOnly(z.boolean().default(true), "offsets are committed after Pulsar has the records"),
      props: compatOnlyKeys(z.record(z.string(), z.string()).optional(), { "linger.ms": "a write is sent at once" }),
    });
    const raw = {
      topic: "t",
      keySerializerClass: "org.apache.kafka.common.serialization.StringSerializer",
      props: { "linger.ms": "5", "client.id": "c" },
    };
    expect(parseConfig(kafka, raw).ok).toBe(true);
    expect(compatWarnings(kafka, raw)).toEqual([
      { field: "configs.keySerializerClass", message: "keys are written as UTF-8" },
      { field: "configs.props.linger.ms", message: "a write is sent at once" },
    ]);
    // Defaults never warn: only what the user wrote does.
    expect(compatWarnings(kafka, { topic: "t" })).toEqual([]);
    const help = configFieldDefinitions(kafka).find((f) => f.fieldName === "keySerializerClass")?.attributes.help;
    expect(help).toBe("Key serializer. Setting it only gives a warning: keys are written as UTF-8");
    expect(sensitiveFields(schema)).toEqual(["password"]);
  });
});

describe("definitions", () => {
  const sink = defineSink({
    name: "memory",
    description: "keeps records in memory",
    config: z.object({}),
    async open() {
      return { async write() {}, async close() {} };
    },
  });

  it("are branded and recognised without instanceof, also through a structural copy", () => {
    expect(isSinkDefinition(sink)).toBe(true);
    expect(isSourceDefinition(sink)).toBe(false);
    expect(isSinkDefinition({ ...sink })).toBe(true);
    expect(isSinkDefinition({ ...sink, apiVersion: 99 })).toBe(false);
    const source = defineSource({
      name: "gen",
      description: "d",
      config: z.object({}),
      async open() {
        return {
          async read() {
            return null;
          },
          async close() {},
        };
      },
    });
    expect(isSourceDefinition(source)).toBe(true);
    expect(Object.isFrozen(source)).toBe(true);
  });
});

describe("manifest", () => {
  it("reads a valid manifest and ignores packages without one", () => {
    expect(readConnectorManifest({ name: "x" })).toBeUndefined();
    const manifest = { manifestVersion: 1, kind: "sink", name: "jdbc-sqlite", description: "SQLite sink" };
    expect(readConnectorManifest({ name: "x", pulsarConnector: manifest })).toEqual(manifest);
  });

  it("rejects a bad manifest with field-level issues", () => {
    expect(() =>
      readConnectorManifest({ name: "@x/y", pulsarConnector: { manifestVersion: 2, kind: "both", name: "Bad Name" } }),
    ).toThrowError(/pulsarConnector.kind/);
  });

  it("reports what the zod manifest schema reports, and keeps only the manifest's fields", () => {
    const blocks: unknown[] = [
      "x",
      null,
      [],
      {},
      { manifestVersion: 2, kind: "pipe", name: 5, description: "", configSchema: 3 },
      { manifestVersion: "1", kind: 1, name: "Bad", description: 7, configSchema: null },
      { manifestVersion: 1, kind: "function", name: "f-1", description: "d", configSchema: "./s.json", extra: 1 },
    ];
    for (const block of blocks) {
      const expected = connectorManifestSchema.safeParse(block);
      const read = () => readConnectorManifest({ name: "p", pulsarConnector: block });
      if (expected.success) {
        expect(read()).toEqual(expected.data);
        continue;
      }
      const issues = expected.error.issues.map((issue) => ({
        path: ["pulsarConnector", ...issue.path.map(String)].join("."),
        message: issue.message,
      }));
      expect(read, JSON.stringify(block)).toThrowError(
        expect.objectContaining({ code: "INVALID_MANIFEST", issues }) as unknown as Error,
      );
    }
  });
});

describe("errors and guarantees", () => {
  it("wraps unknown errors and keeps the cause", () => {
    const cause = new Error("socket hang up");
    const wrapped = toConnectorError(cause, "CONNECTION_FAILED");
    expect(wrapped.code).toBe("CONNECTION_FAILED");
    expect(wrapped.retryable).toBe(true);
    expect(wrapped.cause).toBe(cause);
    expect(toConnectorError("text").message).toBe("text");
    expect(toConnectorError(wrapped)).toBe(wrapped);
  });

  it("chooses the upstream subscription type", () => {
    expect(sinkSubscriptionType({ processingGuarantees: "ATLEAST_ONCE" })).toBe("Shared");
    expect(sinkSubscriptionType({ processingGuarantees: "EFFECTIVELY_ONCE" })).toBe("Failover");
    expect(sinkSubscriptionType({ processingGuarantees: "ATMOST_ONCE", retainOrdering: true })).toBe("Failover");
    expect(sinkSubscriptionType({ processingGuarantees: "ATLEAST_ONCE", retainKeyOrdering: true })).toBe("Key_Shared");
  });
});
