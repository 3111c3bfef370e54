import type { Lsn } from "./lsn.ts";

/** One transaction read from the stream: its records are acked one by one, its end LSN is known at commit. */
export interface TransactionMark {
  /** End of the commit record; confirming it tells the server the whole transaction is done. */
  endLsn: Lsn | undefined;
  /** Records handed out and not acked yet. */
  outstanding: number;
}

/**
 * Which WAL position may be confirmed to the server: the end of the newest transaction such that it and every
 * transaction before it were committed and had all their records acknowledged by Pulsar. An idle stream (no
 * transaction open or pending) may also confirm the position of the server's last keepalive.
 */
export class FlushTracker {
  private readonly transactions: TransactionMark[] = [];
  private head = 0;
  private open: TransactionMark | undefined;
  private confirmable: Lsn;

  constructor(start: Lsn) {
    this.confirmable = start;
  }

  /** A Begin: the records that follow belong to this transaction. */
  begin(): TransactionMark {
    const mark: TransactionMark = { endLsn: undefined, outstanding: 0 };
    this.transactions.push(mark);
    this.open = mark;
    return mark;
  }

  /** One record of `mark` handed out. */
  handOut(mark: TransactionMark): void {
    mark.outstanding += 1;
  }

  /** A Commit of the open transaction. */
  commit(endLsn: Lsn): void {
    if (this.open) this.open.endLsn = endLsn;
    this.open = undefined;
    this.advance();
  }

  /** One record of `mark` acknowledged. */
  ack(mark: TransactionMark): void {
    mark.outstanding -= 1;
    this.advance();
  }

  /** The server sent everything up to `walEnd` and nothing is pending here: that much may be confirmed. */
  idleAt(walEnd: Lsn): void {
    if (this.open === undefined && this.head === this.transactions.length && walEnd > this.confirmable) {
      this.confirmable = walEnd;
    }
  }

  /** Records handed out and not acked yet, over every transaction. */
  get pendingTransactions(): number {
    return this.transactions.length - this.head;
  }

  /** The position that may be confirmed now. */
  get confirmed(): Lsn {
    return this.confirmable;
  }

  private advance(): void {
    while (this.head < this.transactions.length) {
      const first = this.transactions[this.head] as TransactionMark;
      if (first.endLsn === undefined || first.outstanding > 0) break;
      if (first.endLsn > this.confirmable) this.confirmable = first.endLsn;
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.transactions.length) {
      this.transactions.splice(0, this.head);
      this.head = 0;
    }
  }
}
