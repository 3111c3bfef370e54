import { PROCESSING_GUARANTEES } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import { guaranteePolicy, refusalAction } from "./guarantee-policy.ts";

const action = (guarantee: Parameters<typeof guaranteePolicy>[0], maxMessageRetries: number, redeliveryCount = 0) =>
  refusalAction(guaranteePolicy(guarantee).sink, { maxMessageRetries, redeliveryCount });

describe("guarantee policies", () => {
  it("has one policy per guarantee", () => {
    for (const guarantee of PROCESSING_GUARANTEES) expect(guaranteePolicy(guarantee).guarantee).toBe(guarantee);
  });

  it("dead-letters nothing without maxMessageRetries, as upstream", () => {
    expect(action("ATLEAST_ONCE", 0)).toBe("redeliver");
    expect(action("EFFECTIVELY_ONCE", 0)).toBe("fail-instance");
    expect(action("ATMOST_ONCE", 0)).toBe("drop");
    expect(action("MANUAL", 0)).toBe("redeliver");
  });

  it("redelivers maxMessageRetries times before dead-lettering on Shared subscriptions, at once with cumulative acks", () => {
    expect(action("ATLEAST_ONCE", 2, 0)).toBe("redeliver");
    expect(action("ATLEAST_ONCE", 2, 1)).toBe("redeliver");
    expect(action("ATLEAST_ONCE", 2, 2)).toBe("dead-letter");
    expect(action("EFFECTIVELY_ONCE", 2, 0)).toBe("dead-letter");
  });

  it("acks cumulatively only under EFFECTIVELY_ONCE, and waits for the broker's ack receipt only under ATMOST_ONCE", () => {
    for (const guarantee of PROCESSING_GUARANTEES) {
      const { sink } = guaranteePolicy(guarantee);
      expect(sink.ackMode === "cumulative").toBe(guarantee === "EFFECTIVELY_ONCE");
      expect(sink.awaitsAckReceipt).toBe(guarantee === "ATMOST_ONCE");
      // ATMOST_ONCE too: a change from EFFECTIVELY_ONCE must not write again what the stored positions cover.
      expect(sink.resumesFromStoredPositions).toBe(guarantee === "EFFECTIVELY_ONCE" || guarantee === "ATMOST_ONCE");
    }
    expect(guaranteePolicy("EFFECTIVELY_ONCE").source.requiresSequence).toBe(true);
    // What an EFFECTIVELY_ONCE instance put in the topic is not sent again after a change to these guarantees.
    for (const guarantee of PROCESSING_GUARANTEES) {
      expect(guaranteePolicy(guarantee).source.skipsSequencesTheTopicHolds).toBe(
        guarantee === "ATMOST_ONCE" || guarantee === "ATLEAST_ONCE",
      );
    }
    expect(guaranteePolicy("ATMOST_ONCE").source.ackWhen).toBe("read");
  });

  it("gives up a source's failed sends only under ATMOST_ONCE, and ends the instance on a refusal only when it must not lose", () => {
    const source = (guarantee: (typeof PROCESSING_GUARANTEES)[number]) => guaranteePolicy(guarantee).source;
    expect(source("ATMOST_ONCE")).toMatchObject({
      retriesPassingSendFailures: false,
      permanentFailureEndsInstance: false,
    });
    for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
      expect(source(guarantee)).toMatchObject({
        ackWhen: "sent",
        retriesPassingSendFailures: true,
        permanentFailureEndsInstance: true,
      });
    }
    expect(source("MANUAL").ackWhen).toBe("connector");
  });
});
