import { topicsPatternMatcher } from "@pulsar-connect/pulsar-client";
import type { ResolvedSinkConfig, ResolvedSourceConfig } from "@pulsar-connect/runtime";

/**
 * The topics whose unload fences an instance's previous owner: a source's output topic; a sink's inputs, the
 * non-regex `inputSpecs` keys, and every topic (partitions included) its `topicsPattern` (or regex `inputSpecs`
 * key, folded into it) matches now. `listTopics` lists a namespace's topics as the admin API does.
 */
export async function fencingTopics(
  kind: "sink" | "source",
  config: ResolvedSinkConfig | ResolvedSourceConfig,
  listTopics: (namespace: string) => Promise<string[]>,
): Promise<string[]> {
  if (kind === "source") {
    const topic = (config as ResolvedSourceConfig).topicName;
    return typeof topic === "string" ? [topic] : [];
  }
  const sink = config as ResolvedSinkConfig;
  const topics = new Set<string>(sink.inputs ?? []);
  for (const [topic, spec] of Object.entries(sink.inputSpecs ?? {})) {
    if ((spec as { isRegexPattern?: boolean } | undefined)?.isRegexPattern !== true) topics.add(topic);
  }
  const pattern = sink.topicsPattern;
  const namespace = pattern === undefined ? undefined : /^(?:persistent:\/\/)?([^/]+\/[^/]+)\//.exec(pattern)?.[1];
  if (pattern !== undefined && namespace !== undefined) {
    const matcher = topicsPatternMatcher(pattern);
    for (const topic of await listTopics(namespace)) {
      if (matcher.test(topic.replace(/-partition-\d+$/, ""))) topics.add(topic);
    }
  }
  return [...topics];
}
