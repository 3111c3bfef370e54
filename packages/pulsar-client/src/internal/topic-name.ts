import { PulsarClientError } from "../errors.ts";

export interface TopicName {
  /** persistent://tenant/namespace/local */
  full: string;
  domain: "persistent" | "non-persistent";
  tenant: string;
  namespace: string;
  local: string;
  /** Partition index when the local name ends with -partition-N, else -1. */
  partition: number;
}

const PART_RE = /^[-=:.\w]+$/;

/** Accepts `name`, `tenant/ns/name` and `persistent://tenant/ns/name`, like the Java client. */
export function parseTopicName(topic: unknown): TopicName {
  if (typeof topic !== "string" || topic === "")
    throw new PulsarClientError("INVALID_TOPIC", "topic must be a non-empty string");
  let domain: TopicName["domain"] = "persistent";
  let rest = topic;
  const schemeMatch = /^([a-z-]+):\/\/(.*)$/.exec(topic);
  if (schemeMatch) {
    if (schemeMatch[1] !== "persistent" && schemeMatch[1] !== "non-persistent") {
      throw new PulsarClientError("INVALID_TOPIC", `invalid topic domain in "${topic}"`);
    }
    domain = schemeMatch[1];
    rest = schemeMatch[2]!;
  } else if (!topic.includes("/")) {
    rest = `public/default/${topic}`;
  }
  const parts = rest.split("/");
  if (parts.length !== 3) {
    throw new PulsarClientError("INVALID_TOPIC", `invalid topic name "${topic}": expected tenant/namespace/topic`);
  }
  const [tenant, namespace, local] = parts as [string, string, string];
  for (const p of [tenant, namespace]) {
    if (!PART_RE.test(p)) throw new PulsarClientError("INVALID_TOPIC", `invalid topic name "${topic}"`);
  }
  if (local === "" || /[\s/\\]/.test(local) || local.length > 1024) {
    throw new PulsarClientError("INVALID_TOPIC", `invalid topic name "${topic}"`);
  }
  const pm = /-partition-(\d+)$/.exec(local);
  return {
    full: `${domain}://${tenant}/${namespace}/${local}`,
    domain,
    tenant,
    namespace,
    local,
    partition: pm ? Number(pm[1]) : -1,
  };
}

export function partitionTopic(full: string, index: number): string {
  return `${full}-partition-${index}`;
}
