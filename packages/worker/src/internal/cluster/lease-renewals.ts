/**
 * The renewals of a worker's own lease: when the latest stored heartbeat was sent, and how many renewals came after
 * a gap longer than the worker's own lease (it was frozen or cut off: the others may have moved its instances).
 */
export class LeaseRenewals {
  private last = 0;
  private gaps = 0;
  private readonly ownLeaseMs: number;

  constructor(ownLeaseMs: number) {
    this.ownLeaseMs = ownLeaseMs;
  }

  /** Records a stored heartbeat sent at `sentAt`; answers whether it came after a lapse. */
  record(sentAt: number): boolean {
    const lapsed = this.last > 0 && sentAt - this.last >= this.ownLeaseMs;
    if (lapsed) this.gaps += 1;
    // Heartbeats sent concurrently may be stored out of order: the lease counts from the latest send.
    this.last = Math.max(this.last, sentAt);
    return lapsed;
  }

  /** Send time of the latest stored heartbeat; 0 before the first. */
  renewedAt(): number {
    return this.last;
  }

  lapses(): number {
    return this.gaps;
  }
}
