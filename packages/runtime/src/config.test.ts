import { describe, expect, it } from "vitest";
import {
  checkTopicsPattern,
  mergeSinkUpdate,
  qualifyTopic,
  referencedTenants,
  resolveSinkConfig,
  resolveSourceConfig,
} from "./config.ts";
import { topicPath } from "./internal/pulsar.ts";

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

describe("topic names that could reach the admin API", () => {
  const sink = (extra: Record<string, unknown>) =>
    resolveSinkConfig({ tenant: "attacker", namespace: "ns", name: "x", sinkType: "jdbc-sqlite", ...extra });

  it("refuses query, fragment and escape characters in inputs, DLQ, log and destination topics", () => {
    for (const topic of [
      "persistent://victim/ns/orders?force=true&x=",
      "persistent://victim/ns/orders#x",
      "persistent://victim/ns/orders%2Fx",
      "victim/ns/a&b",
      "persistent://victim/ns/a/b",
      "persistent://vic tim/ns/a",
    ]) {
      const inputs = sink({ inputs: [topic] });
      expect(inputs.ok ? [] : inputs.issues.map((issue) => issue.path), topic).toEqual(["inputs.0"]);
      const dlq = sink({ inputs: ["in"], deadLetterTopic: topic, maxMessageRetries: 1 });
      expect(dlq.ok ? [] : dlq.issues.map((issue) => issue.path), topic).toEqual(["deadLetterTopic"]);
      const log = sink({ inputs: ["in"], logTopic: topic });
      expect(log.ok ? [] : log.issues.map((issue) => issue.path), topic).toEqual(["logTopic"]);
      const source = resolveSourceConfig({ name: "s", sourceType: "data-generator", topicName: topic });
      expect(source.ok ? [] : source.issues.map((issue) => issue.path), topic).toEqual(["topicName"]);
    }
    expect(sink({ inputs: ["persistent://attacker/ns/orders-1.v=2:x", "short_name"] }).ok).toBe(true);
  });

  it("encodes every admin path segment", () => {
    expect(topicPath("persistent://t/ns/a:b=c")).toBe("persistent/t/ns/a%3Ab%3Dc");
    expect(() => topicPath("persistent://victim/ns/orders?force=true&x=")).toThrow(/not a valid topic name/);
  });

  it("names the tenant of every topic, pattern and DLQ a config refers to", () => {
    const resolved = sink({
      inputs: ["own", "persistent://other/ns/in"],
      topicsPattern: "third/ns/.*",
      deadLetterTopic: "fourth/ns/dlq",
      maxMessageRetries: 1,
      logTopic: "fifth/ns/log",
    });
    expect(resolved.ok && referencedTenants(resolved.value)).toEqual([
      { field: "inputs.0", tenant: "attacker" },
      { field: "inputs.1", tenant: "other" },
      { field: "topicsPattern", tenant: "third" },
      { field: "deadLetterTopic", tenant: "fourth" },
      { field: "logTopic", tenant: "fifth" },
    ]);
  });

  it("refuses topicsPattern with backreferences, lookaround or no literal namespace prefix", () => {
    for (const pattern of ["public/default/(a)\\1", "public/default/(?=a)b", ".*/default/x", "(a+)+"]) {
      const result = sink({ topicsPattern: pattern });
      expect(result.ok ? [] : result.issues.map((issue) => issue.path), pattern).toEqual(["topicsPattern"]);
    }
    expect(checkTopicsPattern("persistent://public/default/(a+)+$")).toEqual({
      tenant: "public",
      namespace: "public/default",
    });
  });
});
