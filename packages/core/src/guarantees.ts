/** Processing guarantees, with Pulsar IO's names. */
export type ProcessingGuarantee = "ATMOST_ONCE" | "ATLEAST_ONCE" | "EFFECTIVELY_ONCE" | "MANUAL";

/** Every processing guarantee, in order of strength (MANUAL last). */
export const PROCESSING_GUARANTEES: readonly ProcessingGuarantee[] = [
  "ATMOST_ONCE",
  "ATLEAST_ONCE",
  "EFFECTIVELY_ONCE",
  "MANUAL",
];

/** The guarantee used when a config names none. */
export const DEFAULT_PROCESSING_GUARANTEE: ProcessingGuarantee = "ATLEAST_ONCE";

/** Pulsar subscription types a sink's input can use. */
export type SubscriptionType = "Exclusive" | "Shared" | "Failover" | "Key_Shared";

/** True when `value` is one of the processing guarantee names. */
export function isProcessingGuarantee(value: unknown): value is ProcessingGuarantee {
  return typeof value === "string" && (PROCESSING_GUARANTEES as readonly string[]).includes(value);
}

/**
 * The subscription type a sink instance uses, following Pulsar IO: Failover for retainOrdering or
 * EFFECTIVELY_ONCE, Key_Shared for retainKeyOrdering, Shared otherwise.
 */
export function sinkSubscriptionType(options: {
  processingGuarantees: ProcessingGuarantee;
  retainOrdering?: boolean | undefined;
  retainKeyOrdering?: boolean | undefined;
}): SubscriptionType {
  if (options.retainOrdering || options.processingGuarantees === "EFFECTIVELY_ONCE") return "Failover";
  if (options.retainKeyOrdering) return "Key_Shared";
  return "Shared";
}
