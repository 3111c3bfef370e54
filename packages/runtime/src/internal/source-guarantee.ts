// What each processing guarantee means on the source side, one small decision per function.

import type { ProcessingGuarantee } from "@pulsar-connect/core";
import { isPulsarClientError, type PulsarClientErrorCode } from "@pulsar-connect/pulsar-client";

/** Whether a record is acked to its source before its send (ATMOST_ONCE) rather than on the broker's receipt. */
export function acksBeforeSend(guarantee: ProcessingGuarantee): boolean {
  return guarantee === "ATMOST_ONCE";
}

/** Whether a record is acked to its source once the broker stored it. MANUAL leaves acking to the connector. */
export function acksOnReceipt(guarantee: ProcessingGuarantee): boolean {
  return guarantee === "ATLEAST_ONCE" || guarantee === "EFFECTIVELY_ONCE";
}

/**
 * Whether a send that failed for a passing reason is sent again (by a recreated producer, in order) instead of being
 * given up. ATMOST_ONCE gives it up and counts it as dropped.
 */
export function retriesPassingSendFailures(guarantee: ProcessingGuarantee): boolean {
  return guarantee !== "ATMOST_ONCE";
}

/**
 * Send failures that cannot pass by waiting: the record or the configuration is wrong, or the topic refuses it for
 * good. Every other failure (connection lost, broker restarting, topic unloaded or not found yet, producer fenced or
 * closed underneath, timeouts) passes once the broker is back.
 */
const PERMANENT_SEND_FAILURES: ReadonlySet<PulsarClientErrorCode> = new Set<PulsarClientErrorCode>([
  "MESSAGE_TOO_BIG",
  "NOT_ALLOWED",
  "AUTHENTICATION",
  "AUTHORIZATION",
  "INVALID_TOPIC",
  "INVALID_CONFIG",
  "TOPIC_TERMINATED",
  "INCOMPATIBLE_SCHEMA",
  "COMPRESSION",
]);

export type SendFailureKind = "passing" | "permanent";

/** Sorts a failed send (or producer creation) into a failure that passes and one that does not. */
export function sendFailureKind(error: unknown): SendFailureKind {
  if (isPulsarClientError(error)) return PERMANENT_SEND_FAILURES.has(error.code) ? "permanent" : "passing";
  if (error instanceof Error && "retryable" in error && error.retryable === false) return "permanent";
  // Network errors of the admin REST calls (fetch) and anything unexpected from the client: the broker is away.
  return "passing";
}

/**
 * Whether a record refused for good ends the instance. It does under ATLEAST_ONCE and EFFECTIVELY_ONCE for every
 * source: one that cannot replay would lose the record, one that can would read it again and fail again forever.
 * Ending the instance makes the refusal visible (error and status) and restarts it from the source's own position.
 */
export function permanentFailureEndsInstance(guarantee: ProcessingGuarantee): boolean {
  return guarantee === "ATLEAST_ONCE" || guarantee === "EFFECTIVELY_ONCE";
}

/**
 * The partition an EFFECTIVELY_ONCE record goes to on a partitioned topic. It must not depend on send order: a record
 * sent again after a restart has to reach the partition that deduplicates its sequence id. Keyed records follow the
 * key hash (as the producer's router does); keyless ones follow their sequence id.
 */
export function effectivelyOncePartition(
  numPartitions: number,
  keyPartition: (key: string) => number,
  key: string | undefined,
  sequence: bigint,
): number {
  if (numPartitions <= 1) return 0;
  if (key !== undefined && key !== "") return keyPartition(key);
  return Number(sequence % BigInt(numPartitions));
}
