import { compatWarnings, isSourceDefinition, parseConfig } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";

const minimal = {
  "database.hostname": "db",
  "database.user": "cdc",
  "database.dbname": "shop",
  "topic.prefix": "shop",
};

const issues = (raw: Record<string, unknown>) => {
  const result = parseConfig(definition.config, raw);
  return result.ok ? [] : result.issues;
};

describe("debezium-postgres config", () => {
  it("is the source named as upstream, with Debezium's defaults", () => {
    expect(isSourceDefinition(definition)).toBe(true);
    expect(definition.name).toBe("debezium-postgres");
    const result = parseConfig(definition.config, { ...minimal, "database.port": "5433" });
    expect(result.ok && result.value).toMatchObject({
      "database.port": 5433,
      "slot.name": "debezium",
      "publication.name": "dbz_publication",
      "snapshot.mode": "initial",
      "plugin.name": "pgoutput",
      "decimal.handling.mode": "precise",
    });
  });

  it("needs topic.prefix, or the older database.server.name", () => {
    const { "topic.prefix": _, ...withoutPrefix } = minimal;
    expect(issues(withoutPrefix).map((issue) => issue.path)).toEqual(["configs.topic.prefix"]);
    expect(issues({ ...withoutPrefix, "database.server.name": "legacy" })).toEqual([]);
  });

  it("refuses what it cannot honour, naming the field", () => {
    const paths = (raw: Record<string, unknown>) => issues({ ...minimal, ...raw }).map((issue) => issue.path);
    expect(paths({ "plugin.name": "decoderbufs" })).toEqual(["configs.plugin.name"]);
    expect(paths({ "json-with-envelope": "true" })).toEqual(["configs.json-with-envelope"]);
    expect(paths({ "snapshot.mode": "always" })).toEqual(["configs.snapshot.mode"]);
    expect(paths({ "slot.name": "Bad-Name" })).toEqual(["configs.slot.name"]);
    expect(paths({ "table.include.list": "public.(" })).toEqual(["configs.table.include.list"]);
    expect(paths({ "skipped.operations": "c,x" })).toEqual(["configs.skipped.operations"]);
    expect(paths({ "heartbeat.action.query": "SELECT 1" })).toEqual(["configs.heartbeat.action.query"]);
    expect(issues({ ...minimal, "column.mask.with.10.chars": "a" })[0]?.message).toMatch(/column\.mask/);
  });

  it("accepts upstream-only fields with a visible warning", () => {
    const warnings = compatWarnings(definition.config, {
      ...minimal,
      "tombstones.on.delete": true,
      "key.converter": "x",
    });
    expect(warnings.map((warning) => warning.field)).toEqual(["configs.tombstones.on.delete", "configs.key.converter"]);
  });

  it("marks the password sensitive", () => {
    const result = parseConfig(definition.config, minimal, (name) =>
      name === "database.password" ? "s3cret" : undefined,
    );
    expect(result.ok && result.value["database.password"]).toBe("s3cret");
  });
});
