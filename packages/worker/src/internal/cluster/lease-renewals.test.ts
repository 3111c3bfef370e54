import { describe, expect, it } from "vitest";
import { LeaseRenewals } from "./lease-renewals.ts";

describe("LeaseRenewals", () => {
  it("counts a renewal that comes an own lease or more after the previous one as a lapse", () => {
    const renewals = new LeaseRenewals(4_000);
    expect(renewals.record(1_000)).toBe(false);
    expect(renewals.record(2_000)).toBe(false);
    expect(renewals.record(5_999)).toBe(false);
    expect(renewals.lapses()).toBe(0);
    expect(renewals.record(9_999)).toBe(true);
    expect(renewals.lapses()).toBe(1);
    expect(renewals.renewedAt()).toBe(9_999);
  });

  it("keeps the latest send time when heartbeats are stored out of order", () => {
    const renewals = new LeaseRenewals(4_000);
    renewals.record(3_000);
    expect(renewals.record(2_000)).toBe(false);
    expect(renewals.renewedAt()).toBe(3_000);
  });
});
