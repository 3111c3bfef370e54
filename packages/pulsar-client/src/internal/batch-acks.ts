import type { MessageId } from "../message-id.ts";

/** Partly acknowledged entries remembered across deliveries, at most. */
const MAX_REMEMBERED_ENTRIES = 10_000;

/** Key of a ledger entry: every message of a batch shares it. */
export function entryKey(id: { ledgerId: bigint; entryId: bigint }): string {
  return `${id.ledgerId}:${id.entryId}`;
}

/**
 * Which messages of each delivered batch are not acknowledged yet. The broker acknowledges whole entries, so an
 * entry is acknowledged only when every message of it that was handed out has been.
 *
 * The same entry can be delivered again (reconnect, redelivery, seek) while messages of the earlier delivery are
 * still being processed. Each delivery keeps its own set, and a message id stays bound to the delivery it came
 * with: an acknowledgement of an earlier copy never completes an entry whose other messages are still unprocessed.
 */
export class BatchAcks {
  /** Outstanding batch indexes of the newest delivery of each entry. */
  private readonly newest = new Map<string, Set<number>>();
  /**
   * Batch indexes acknowledged in entries not complete yet, over all deliveries: a later delivery of the entry (after
   * a reconnect or a redelivery) must not hand them out again, or a message processed once would come twice.
   */
  private readonly acknowledgedIn = new Map<string, Set<number>>();

  /** Records a delivery of `ids`, the messages of one entry handed out (filtered ones left out). */
  delivered(ids: readonly MessageId[]): void {
    const first = ids[0];
    if (!first) return;
    const outstanding = new Set<number>();
    for (const id of ids) outstanding.add(id.batchIndex);
    this.newest.set(entryKey(first), outstanding);
    // Each handed-out id keeps the delivery it belongs to.
    for (const id of ids) id._delivery = outstanding;
  }

  /**
   * Marks `id` acknowledged; true when its entry may now be acknowledged at the broker. `remember: false` (a
   * transactional acknowledgement, which may still abort) does not keep the index for later deliveries.
   */
  acknowledged(id: MessageId, remember = true): boolean {
    if (id.batchIndex < 0) return true;
    const delivery = id._delivery;
    const key = entryKey(id);
    const outstanding = delivery ?? this.newest.get(key);
    if (!outstanding) return true;
    outstanding.delete(id.batchIndex);
    if (outstanding.size > 0) {
      if (!remember) return false;
      let acknowledged = this.acknowledgedIn.get(key);
      if (!acknowledged) {
        acknowledged = new Set();
        this.acknowledgedIn.set(key, acknowledged);
        this.bound();
      }
      acknowledged.add(id.batchIndex);
      // Acknowledged over several deliveries, every message of the entry is done.
      if (id.batchSize === undefined || acknowledged.size < id.batchSize) return false;
      this.complete(key, outstanding);
      return true;
    }
    // Every message of this delivery was processed: the entry is done, whichever copy completed it.
    if (this.newest.get(key) === outstanding) this.newest.delete(key);
    this.acknowledgedIn.delete(key);
    return true;
  }

  /**
   * Keeps at most {@link MAX_REMEMBERED_ENTRIES} partly acknowledged entries (the oldest go first): an entry whose
   * other messages went to another consumer may never complete here. Forgetting one can only bring a message twice.
   */
  private bound(): void {
    while (this.acknowledgedIn.size > MAX_REMEMBERED_ENTRIES) {
      const oldest = this.acknowledgedIn.keys().next();
      if (oldest.done) return;
      this.acknowledgedIn.delete(oldest.value);
    }
  }

  /** Whether `id` was acknowledged in an earlier delivery of its entry, which is not complete yet. */
  alreadyAcknowledged(id: MessageId): boolean {
    return id.batchIndex >= 0 && (this.acknowledgedIn.get(entryKey(id))?.has(id.batchIndex) ?? false);
  }

  /**
   * Cumulative acknowledgement up to `id`: entries before it are done; within its own entry the messages up to it
   * are. Returns whether its own entry is complete.
   */
  acknowledgedUpTo(id: MessageId): boolean {
    const before = (key: string) => {
      const [ledgerId, entryId] = key.split(":").map(BigInt) as [bigint, bigint];
      return ledgerId < id.ledgerId || (ledgerId === id.ledgerId && entryId < id.entryId);
    };
    for (const [key, outstanding] of [...this.newest]) if (before(key)) this.complete(key, outstanding);
    for (const key of [...this.acknowledgedIn.keys()]) if (before(key)) this.acknowledgedIn.delete(key);
    const key = entryKey(id);
    const outstanding = this.newest.get(key) ?? new Set<number>();
    if (id.batchIndex < 0 || id.batchSize === undefined || id.batchIndex >= id.batchSize - 1) {
      this.complete(key, outstanding);
      return true;
    }
    const acknowledged = this.acknowledgedIn.get(key) ?? new Set<number>();
    for (let i = 0; i <= id.batchIndex; i++) {
      outstanding.delete(i);
      acknowledged.add(i);
    }
    if (!this.newest.has(key) || outstanding.size > 0) {
      this.acknowledgedIn.set(key, acknowledged);
      this.bound();
      return false;
    }
    this.complete(key, outstanding);
    return true;
  }

  /** An entry acknowledged at the broker: later acknowledgements of its messages are no-ops. */
  private complete(key: string, outstanding: Set<number>): void {
    outstanding.clear();
    this.newest.delete(key);
    this.acknowledgedIn.delete(key);
  }

  /** An entry whose every message was acknowledged in earlier deliveries is acknowledged at the broker now. */
  settled(id: { ledgerId: bigint; entryId: bigint }): void {
    const key = entryKey(id);
    this.newest.delete(key);
    this.acknowledgedIn.delete(key);
  }

  /** Forgets the deliveries of one entry (it is being redelivered). */
  forget(id: { ledgerId: bigint; entryId: bigint }): void {
    this.newest.delete(entryKey(id));
  }

  /**
   * Forgets every delivery (reconnect, redelivery of everything). What was acknowledged is still remembered, so the
   * next deliveries leave it out.
   */
  clear(): void {
    this.newest.clear();
  }

  /** Forgets everything, what was acknowledged too (seek: the user asked to read again). */
  reset(): void {
    this.newest.clear();
    this.acknowledgedIn.clear();
  }
}
