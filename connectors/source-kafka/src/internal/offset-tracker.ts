/** One record handed to the runtime and not yet settled. */
export interface Delivery {
  readonly offset: bigint;
  acked: boolean;
}

/**
 * Offsets of one assigned Kafka partition: which records were handed out, which were acked, and what may be
 * committed. The committable offset is the first handed-out record that is not acked yet (everything before it
 * is acked), or the offset after the last handed-out record when all are acked — Kafka's "next offset to read".
 */
export class OffsetTracker {
  /** Handed-out records in offset order; settled ones are removed from the front. */
  private readonly window: Delivery[] = [];
  private head = 0;
  private readonly byOffset = new Map<bigint, Delivery>();
  /** Next offset to commit when nothing is pending. */
  private nextAfterHandedOut: bigint | undefined;
  /** Offset last committed to Kafka (or known committed). */
  private committedOffset: bigint | undefined;
  /** First offset ever handed out: committing it would record no progress. */
  private firstHandedOut: bigint | undefined;
  /** Smallest offset accepted from the fetcher; smaller ones are duplicates of records already handed out. */
  private expectedOffset: bigint | undefined;

  /** True when the fetcher's record at `offset` is new (not a re-fetch of a record already taken). */
  accept(offset: bigint): boolean {
    if (this.expectedOffset !== undefined && offset < this.expectedOffset) return false;
    this.expectedOffset = offset + 1n;
    return true;
  }

  /** Records that the record at `offset` was handed to the runtime; returns its handle for ack/fail. */
  handOut(offset: bigint): Delivery {
    const delivery: Delivery = { offset, acked: false };
    this.firstHandedOut ??= offset;
    this.window.push(delivery);
    this.byOffset.set(offset, delivery);
    this.nextAfterHandedOut = offset + 1n;
    return delivery;
  }

  /** True when `delivery` is still pending here (not acked, not dropped by a fail or a seek). */
  isPending(delivery: Delivery): boolean {
    return this.byOffset.get(delivery.offset) === delivery && !delivery.acked;
  }

  /** Marks `delivery` acked. Returns false when it was not pending (late or duplicate ack). */
  ack(delivery: Delivery): boolean {
    if (!this.isPending(delivery)) return false;
    delivery.acked = true;
    while (this.head < this.window.length) {
      const first = this.window[this.head];
      if (!first?.acked) break;
      this.byOffset.delete(first.offset);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.window.length) {
      this.window.splice(0, this.head);
      this.head = 0;
    }
    return true;
  }

  /**
   * Forgets `delivery` and every record handed out after it, so reading restarts at its offset. Returns the
   * offset to seek to, or undefined when `delivery` was not pending.
   */
  rewind(delivery: Delivery): bigint | undefined {
    if (!this.isPending(delivery)) return undefined;
    const offset = delivery.offset;
    while (this.window.length > this.head) {
      const last = this.window[this.window.length - 1];
      if (!last || last.offset < offset) break;
      this.window.pop();
      this.byOffset.delete(last.offset);
    }
    this.nextAfterHandedOut = offset;
    this.expectedOffset = offset;
    return offset;
  }

  /** Number of handed-out records not acked yet. */
  get pending(): number {
    return this.window.length - this.head;
  }

  /** The offset to commit (Kafka's next offset to read), or undefined when nothing was handed out. */
  committable(): bigint | undefined {
    const first = this.window[this.head];
    if (first) return first.offset;
    return this.nextAfterHandedOut;
  }

  /** The committable offset when it moved past the last commit, else undefined. */
  commitDue(): bigint | undefined {
    const offset = this.committable();
    if (offset === undefined) return undefined;
    const floor = this.committedOffset ?? this.firstHandedOut;
    if (floor !== undefined && offset <= floor) return undefined;
    return offset;
  }

  /** Whether a commit of `offset` (or beyond) was confirmed. */
  isCommitted(offset: bigint): boolean {
    return this.committedOffset !== undefined && this.committedOffset >= offset;
  }

  /** Notes that `offset` is committed. */
  committed(offset: bigint): void {
    if (this.committedOffset === undefined || offset > this.committedOffset) this.committedOffset = offset;
  }
}
