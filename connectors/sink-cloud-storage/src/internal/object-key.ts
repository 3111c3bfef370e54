import type { PulsarPosition } from "@pulsar-connect/core";

/** Where the objects of one topic (partition) live and how an object is named. */
export interface KeyLayout {
  /** Upstream's `pathPrefix`: empty, or ends with "/". */
  pathPrefix: string;
  /** Put `tenant/namespace/topic/` in the path (upstream's `partitionerWithTopicName`). */
  withTopicName: boolean;
  /** Keep partitions of a partitioned topic apart (upstream's `withTopicPartitionNumber`). */
  withPartitionNumber: boolean;
  /** `topic/partition-N/` rather than `topic-partition-N/` (upstream's `sliceTopicPartitionPath`). */
  slicePartitionPath: boolean;
}

export interface TopicParts {
  domain: string;
  tenant: string;
  namespace: string;
  /** Topic name without the partition suffix. */
  topic: string;
  partition?: number;
}

/** Splits `persistent://tenant/ns/topic-partition-3` (or `tenant/ns/topic`, or a short name) into its parts. */
export function topicParts(name: string): TopicParts {
  const match = /^(?:([a-z-]+):\/\/)?(.*)$/.exec(name) as RegExpExecArray;
  const domain = match[1] ?? "persistent";
  const segments = (match[2] as string).split("/");
  const [tenant, namespace, ...rest] = segments.length >= 3 ? segments : ["public", "default", ...segments];
  let topic = rest.join("/");
  let partition: number | undefined;
  const partitioned = /^(.*)-partition-(\d+)$/.exec(topic);
  if (partitioned) {
    topic = partitioned[1] as string;
    partition = Number(partitioned[2]);
  }
  const parts: TopicParts = { domain, tenant: tenant as string, namespace: namespace as string, topic };
  if (partition !== undefined) parts.partition = partition;
  return parts;
}

/** The folder of a topic (partition) under the prefix, ending with "/" (empty without topic names). */
export function topicFolder(layout: KeyLayout, topicName: string): string {
  if (!layout.withTopicName) return layout.pathPrefix;
  const parts = topicParts(topicName);
  let folder = `${parts.tenant}/${parts.namespace}/${parts.topic}`;
  if (parts.partition !== undefined && layout.withPartitionNumber) {
    folder += layout.slicePartitionPath ? `/partition-${parts.partition}` : `-partition-${parts.partition}`;
  }
  return `${layout.pathPrefix}${folder}/`;
}

function positionText(position: PulsarPosition): string {
  const base = `${position.ledgerId}.${position.entryId}`;
  return position.batchIndex >= 0 ? `${base}.${position.batchIndex}` : base;
}

/**
 * Object name from the first and last Pulsar positions it holds: the same records always get the same name, so a
 * retried or repeated upload replaces the object instead of adding a second copy.
 */
export function objectName(first: PulsarPosition, last: PulsarPosition, extension: string): string {
  return `${positionText(first)}_${positionText(last)}${extension}`;
}

const NAME = /(?:^|\/)(\d+)\.(\d+)(?:\.(\d+))?_(\d+)\.(\d+)(?:\.(\d+))?\.[a-z0-9.]+$/;

/** The last position of an object key written by {@link objectName} (topic left empty), or undefined. */
export function lastPositionOf(key: string): Omit<PulsarPosition, "topic"> | undefined {
  const match = NAME.exec(key);
  if (!match) return undefined;
  return {
    ledgerId: BigInt(match[4] as string),
    entryId: BigInt(match[5] as string),
    batchIndex: match[6] === undefined ? -1 : Number(match[6]),
  };
}
