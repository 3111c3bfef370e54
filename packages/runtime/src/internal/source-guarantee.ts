// How the source side sorts send failures and routes EFFECTIVELY_ONCE records; what each guarantee does with them
// is in guarantee-policy.ts.

import { isPulsarClientError, type PulsarClientErrorCode } from "@pulsar-connect/pulsar-client";

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
