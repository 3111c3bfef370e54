import { describe, expect, it } from "vitest";
import { mergeSinkUpdate, qualifyTopic, resolveSinkConfig, resolveSourceConfig } from "./config.ts";

describe("resolveSinkConfig", () => {
  it("applies upstream defaults", () => {
    const result = resolveSinkConfig({ name: "pg", sinkType: "jdbc-postgres", inputs: ["orders"] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      tenant: "public",
      namespace: "default",
      name: "pg",
      archive: "builtin://jdbc-postgres",
      inputs: ["persistent://public/default/orders"],
      parallelism: 1,
      processingGuarantees: "ATLEAST_ONCE",
      sourceSubscriptionName: "public/default/pg",
      sourceSubscriptionPosition: "Latest",
      autoAck: true,
      cleanupSubscription: true,
    });
    expect("sinkType" in result.value).toBe(false);
  });

  it("reports every problem with its field", () => {
    const result = resolveSinkConfig({
      name: "bad name",
      parallelism: 0,
      processingGuarantees: "SOMETIMES" as never,
      inputs: ["a b"],
      retainOrdering: true,
      retainKeyOrdering: true,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.path).sort()).toEqual([
      "archive",
      "inputs.0",
      "name",
      "parallelism",
      "processingGuarantees",
      "retainKeyOrdering",
    ]);
  });

  it("requires an input", () => {
    const result = resolveSinkConfig({ name: "x", archive: "builtin://x" });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(["inputs"]);
  });
});

describe("mergeSinkUpdate", () => {
  const existing = (() => {
    const result = resolveSinkConfig({ name: "s", sinkType: "jdbc-sqlite", inputs: ["in"], configs: { a: 1 } });
    if (!result.ok) throw new Error("setup");
    return result.value;
  })();

  it("changes the processing guarantee, configs and parallelism", () => {
    const result = mergeSinkUpdate(existing, {
      processingGuarantees: "EFFECTIVELY_ONCE",
      parallelism: 2,
      configs: { b: 2 },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.processingGuarantees).toBe("EFFECTIVELY_ONCE");
    expect(result.value.parallelism).toBe(2);
    expect(result.value.configs).toEqual({ b: 2 });
    expect(result.value.inputs).toEqual(existing.inputs);
  });

  it("refuses changes upstream refuses, naming the field", () => {
    const result = mergeSinkUpdate(existing, { inputs: ["other"], sourceSubscriptionName: "x", tenant: "t2" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: "tenant", message: "Tenants differ" },
      { path: "sourceSubscriptionName", message: "Subscription Name cannot be altered" },
      { path: "inputs", message: "Input Topics cannot be altered" },
    ]);
  });
});

describe("resolveSourceConfig", () => {
  it("needs a destination topic and qualifies it", () => {
    const missing = resolveSourceConfig({ name: "gen", sourceType: "data-generator" });
    expect(missing.ok ? [] : missing.issues.map((issue) => issue.path)).toEqual(["topicName"]);
    const ok = resolveSourceConfig({ name: "gen", sourceType: "data-generator", topicName: "t/ns/people" });
    expect(ok.ok && ok.value.topicName).toBe("persistent://t/ns/people");
    expect(ok.ok && ok.value.processingGuarantees).toBe("ATLEAST_ONCE");
  });

  it("qualifies short topic names in the connector's namespace", () => {
    expect(qualifyTopic("x", "t", "n")).toBe("persistent://t/n/x");
    expect(qualifyTopic("non-persistent://a/b/c")).toBe("non-persistent://a/b/c");
  });
});
