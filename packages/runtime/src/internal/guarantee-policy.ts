import type { ProcessingGuarantee } from "@pulsar-connect/core/host";

/**
 * What the runtime does for one processing guarantee, on both sides of a connector. The sink and source runners
 * read these fields instead of branching on the guarantee's name, so each guarantee is described in one place.
 */
export interface GuaranteePolicy {
  readonly guarantee: ProcessingGuarantee;
  readonly sink: SinkGuarantee;
  readonly source: SourceGuarantee;
}

/** Pulsar -> sink. */
export interface SinkGuarantee {
  /**
   * When the runtime acknowledges a message: `received` before the write (a failed write loses it), `written` once
   * the write (or the dead-letter send) succeeded, `connector` never (the connector gets `ack`/`fail`).
   */
  readonly ackWhen: "received" | "written" | "connector";
  /**
   * `individual` acks each message; `cumulative` acks the last message of the longest prefix of a topic whose
   * messages are all written or dead-lettered, so no ack ever covers a message that is neither.
   */
  readonly ackMode: "individual" | "cumulative";
  /**
   * Whether acknowledgements wait for the broker's answer (`ackReceiptEnabled`). With `ackWhen: "received"` only the
   * messages of entries the broker confirmed as acknowledged are written: an ack lost in a crash, or refused while
   * disconnected, must not leave a written message for the broker to deliver again.
   */
  readonly awaitsAckReceipt: boolean;
  /** Whether failed writes are retried (retryable batch failures and retryable per-record failures, in order). */
  readonly retriesWrites: boolean;
  /**
   * Why batches are written one at a time whatever the sink's `maxInFlight`, or undefined when up to `maxInFlight`
   * writes may run at once (each batch is then acknowledged after its own write, whichever finishes first).
   */
  readonly serialWritesReason: string | undefined;
  /**
   * What a record the sink refuses (or that cannot be decoded) leads to when no dead-letter topic is configured
   * (`maxMessageRetries` unset or 0, as upstream): `redeliver` negative-acks it; `fail-instance` ends the
   * instance with the reason, and the restart resumes after the last cumulative ack; `drop` counts it. Under MANUAL
   * too: a refused record is not the connector's to settle, as upstream fails the source record of a sink write that
   * threw.
   */
  readonly refusedWithoutDeadLetter: "redeliver" | "fail-instance" | "drop";
  /**
   * Whether a refused record is redelivered up to `maxMessageRetries` times before it is dead-lettered (Shared
   * subscriptions); otherwise it is dead-lettered at once, since a cumulative ack cannot skip it.
   */
  readonly redeliversBeforeDeadLetter: boolean;
  /**
   * Whether the positions a sink stores with its data (written under EFFECTIVELY_ONCE) decide what is already
   * written: read at start and again whenever the instance becomes the active consumer of a Failover subscription,
   * and the records they cover are skipped. Under ATMOST_ONCE too, so that a change from EFFECTIVELY_ONCE never
   * writes again what was written but not yet acknowledged (skipping can only lose, which ATMOST_ONCE allows); not
   * under ATLEAST_ONCE, where a position stored past a record redelivered later must not make it lost.
   */
  readonly resumesFromStoredPositions: boolean;
  /** What a restart resumes from, for the documentation and status. */
  readonly restartResumesFrom: string;
}

/** Source -> Pulsar. */
export interface SourceGuarantee {
  /**
   * When the source record is acked: `read` before its batch is sent (the runtime awaits the acks, so the source
   * has committed what a crash after the send must not bring again), `sent` after the send receipt, `connector`
   * never.
   */
  readonly ackWhen: "read" | "sent" | "connector";
  /**
   * Whether a send that failed for a passing reason (connection lost, topic unloaded) is sent again by a recreated
   * producer, in order, while the source waits; otherwise it is given up and counted as dropped.
   */
  readonly retriesPassingSendFailures: boolean;
  /**
   * Whether a record the broker refuses for good ends the instance (with `record.fail()` first, so a source that
   * can replay moves back to it); otherwise it is dropped and counted.
   */
  readonly permanentFailureEndsInstance: boolean;
  /**
   * Whether records must carry `partitionId` and `sequence`: one producer per partition named after it,
   * `sequenceId = sequence`, and broker deduplication verified on before the instance starts.
   */
  readonly requiresSequence: boolean;
  /**
   * Whether records that carry `partitionId` and `sequence` anyway are first checked against the last sequence the
   * broker stored for a producer of that name (an earlier EFFECTIVELY_ONCE instance, with deduplication on): those
   * the topic holds are acknowledged without a send, so a change of guarantee never publishes them twice. Under
   * EFFECTIVELY_ONCE the producers named after the partitionId do this themselves.
   */
  readonly skipsSequencesTheTopicHolds: boolean;
  /** What a restart resumes from, for the documentation and status. */
  readonly restartResumesFrom: string;
}

const ATMOST_ONCE: GuaranteePolicy = {
  guarantee: "ATMOST_ONCE",
  sink: {
    ackWhen: "received",
    ackMode: "individual",
    awaitsAckReceipt: true,
    retriesWrites: false,
    serialWritesReason: undefined,
    refusedWithoutDeadLetter: "drop",
    redeliversBeforeDeadLetter: false,
    resumesFromStoredPositions: true,
    restartResumesFrom:
      "the messages not yet received (everything written was acknowledged, as the broker confirmed, before its write); messages at or before the positions a sink stored are skipped",
  },
  source: {
    ackWhen: "read",
    retriesPassingSendFailures: false,
    permanentFailureEndsInstance: false,
    requiresSequence: false,
    skipsSequencesTheTopicHolds: true,
    restartResumesFrom: "the source's own position after the last record read",
  },
};

const ATLEAST_ONCE: GuaranteePolicy = {
  guarantee: "ATLEAST_ONCE",
  sink: {
    ackWhen: "written",
    ackMode: "individual",
    awaitsAckReceipt: false,
    retriesWrites: true,
    serialWritesReason: undefined,
    refusedWithoutDeadLetter: "redeliver",
    redeliversBeforeDeadLetter: true,
    resumesFromStoredPositions: false,
    restartResumesFrom: "every unacknowledged message: those written but not yet acknowledged are written again",
  },
  source: {
    ackWhen: "sent",
    retriesPassingSendFailures: true,
    permanentFailureEndsInstance: true,
    requiresSequence: false,
    skipsSequencesTheTopicHolds: true,
    restartResumesFrom: "the source's position after the last record whose send was confirmed",
  },
};

const EFFECTIVELY_ONCE: GuaranteePolicy = {
  guarantee: "EFFECTIVELY_ONCE",
  sink: {
    ackWhen: "written",
    ackMode: "cumulative",
    awaitsAckReceipt: false,
    retriesWrites: true,
    serialWritesReason:
      "EFFECTIVELY_ONCE acknowledges cumulatively and a sink may store its position with each batch: a later batch written first would cover an earlier one not yet written",
    refusedWithoutDeadLetter: "fail-instance",
    redeliversBeforeDeadLetter: false,
    resumesFromStoredPositions: true,
    restartResumesFrom:
      "the last cumulative ack; messages at or before the position the sink stored with its data are skipped",
  },
  source: {
    ackWhen: "sent",
    retriesPassingSendFailures: true,
    permanentFailureEndsInstance: true,
    requiresSequence: true,
    skipsSequencesTheTopicHolds: false,
    restartResumesFrom: "the source's position; the broker drops a sequence at or below the last one it stored",
  },
};

const MANUAL: GuaranteePolicy = {
  guarantee: "MANUAL",
  sink: {
    ackWhen: "connector",
    ackMode: "individual",
    awaitsAckReceipt: false,
    retriesWrites: true,
    serialWritesReason: undefined,
    refusedWithoutDeadLetter: "redeliver",
    redeliversBeforeDeadLetter: true,
    resumesFromStoredPositions: false,
    restartResumesFrom: "every message the connector did not acknowledge",
  },
  source: {
    ackWhen: "connector",
    retriesPassingSendFailures: true,
    permanentFailureEndsInstance: false,
    requiresSequence: false,
    skipsSequencesTheTopicHolds: false,
    restartResumesFrom: "whatever the connector acknowledged to its source",
  },
};

const POLICIES: Readonly<Record<ProcessingGuarantee, GuaranteePolicy>> = {
  ATMOST_ONCE,
  ATLEAST_ONCE,
  EFFECTIVELY_ONCE,
  MANUAL,
};

/** The policy of a guarantee. */
export function guaranteePolicy(guarantee: ProcessingGuarantee): GuaranteePolicy {
  return POLICIES[guarantee];
}

/** What happens to a record the sink refused (or that cannot be decoded). */
export type RefusalAction = "dead-letter" | "redeliver" | "fail-instance" | "drop";

/**
 * Decides the fate of a refused record. A dead-letter topic exists only with `maxMessageRetries > 0`, as upstream
 * (`--max-redeliver-count`); without it nothing is dead-lettered.
 */
export function refusalAction(
  policy: SinkGuarantee,
  options: { maxMessageRetries: number; redeliveryCount: number },
): RefusalAction {
  if (policy.ackWhen === "received") return "drop";
  if (options.maxMessageRetries <= 0) return policy.refusedWithoutDeadLetter;
  if (policy.redeliversBeforeDeadLetter && options.redeliveryCount < options.maxMessageRetries) return "redeliver";
  return "dead-letter";
}
