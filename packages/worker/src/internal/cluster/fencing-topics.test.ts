import type { ResolvedSinkConfig, ResolvedSourceConfig } from "@pulsar-connect/runtime";
import { describe, expect, it } from "vitest";
import { fencingTopics } from "./fencing-topics.ts";

describe("fencingTopics", () => {
  const listed = [
    "persistent://t/ns/orders-eu",
    "persistent://t/ns/orders-us-partition-0",
    "persistent://t/ns/orders-us-partition-1",
    "persistent://t/ns/payments",
  ];
  const listTopics = async (namespace: string) => (namespace === "t/ns" ? listed : []);

  it("unloads every topic a sink's topicsPattern matches, partitions included", async () => {
    const config = { inputs: [], topicsPattern: "persistent://t/ns/orders-.*" } as unknown as ResolvedSinkConfig;
    expect((await fencingTopics("sink", config, listTopics)).sort()).toEqual(listed.slice(0, 3));
  });

  it("takes inputs and literal inputSpecs keys as they are, never a regex key", async () => {
    const config = {
      inputs: ["persistent://t/ns/a"],
      inputSpecs: { "persistent://t/ns/b": {}, "persistent://t/ns/pay.*": { isRegexPattern: true } },
      topicsPattern: "persistent://t/ns/pay.*",
    } as unknown as ResolvedSinkConfig;
    expect((await fencingTopics("sink", config, listTopics)).sort()).toEqual([
      "persistent://t/ns/a",
      "persistent://t/ns/b",
      "persistent://t/ns/payments",
    ]);
  });

  it("unloads a source's output topic", async () => {
    const config = { topicName: "persistent://t/ns/out" } as unknown as ResolvedSourceConfig;
    expect(await fencingTopics("source", config, listTopics)).toEqual(["persistent://t/ns/out"]);
  });
});
