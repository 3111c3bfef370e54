import { PulsarClientError } from "./errors.ts";
import type { Connection } from "./internal/connection.ts";
import { serverError } from "./internal/errors-map.ts";
import type { ConnectionPool } from "./internal/pool.ts";
import { type BaseCommandPb, CommandType } from "./internal/schema.ts";

export const TRANSACTION_COORDINATOR_ASSIGN = "persistent://pulsar/system/transaction_coordinator_assign";

export type TransactionState = "OPEN" | "COMMITTING" | "COMMITTED" | "ABORTING" | "ABORTED" | "ERROR";

type TxnResponse = NonNullable<BaseCommandPb["newTxnResponse"]>;

/** @internal Talks to the transaction coordinators (one per partition of the assign topic). */
export class TransactionCoordinatorClient {
  private coordinators: Array<Promise<Connection> | undefined> = [];
  private count = 0;
  private next = 0;
  private started: Promise<void> | undefined;

  private readonly pool: ConnectionPool;
  private readonly operationTimeoutMs: number;

  constructor(pool: ConnectionPool, operationTimeoutMs: number) {
    this.pool = pool;
    this.operationTimeoutMs = operationTimeoutMs;
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      const n = await this.pool.partitionedMetadata(TRANSACTION_COORDINATOR_ASSIGN);
      if (n <= 0)
        throw new PulsarClientError("TRANSACTION_COORDINATOR_NOT_FOUND", "no transaction coordinators in this cluster");
      this.count = n;
      this.coordinators = new Array(n).fill(undefined);
    })().catch((err) => {
      this.started = undefined;
      throw err;
    });
    return this.started;
  }

  private connectTc(tcId: number): Promise<Connection> {
    const existing = this.coordinators[tcId];
    if (existing) return existing;
    const p = (async () => {
      const conn = await this.pool.connectionForTopic(`${TRANSACTION_COORDINATOR_ASSIGN}-partition-${tcId}`);
      const requestId = conn.newRequestId();
      const resp = await conn.request(
        { type: CommandType.TC_CLIENT_CONNECT_REQUEST, tcClientConnectRequest: { requestId, tcId: BigInt(tcId) } },
        requestId,
        `connect to transaction coordinator ${tcId}`,
      );
      const r = resp.tcClientConnectResponse!;
      if (r.error !== undefined) throw serverError(r.error, r.message, `transaction coordinator ${tcId}`);
      conn.onClose(() => {
        if (this.coordinators[tcId] === p) this.coordinators[tcId] = undefined;
      });
      return conn;
    })();
    p.catch(() => {
      if (this.coordinators[tcId] === p) this.coordinators[tcId] = undefined;
    });
    this.coordinators[tcId] = p;
    return p;
  }

  private async call(
    tcId: number,
    build: (requestId: bigint) => BaseCommandPb,
    pick: (cmd: BaseCommandPb) => TxnResponse | undefined,
    what: string,
  ): Promise<TxnResponse> {
    const conn = await this.connectTc(tcId);
    const requestId = conn.newRequestId();
    const resp = await conn.request(build(requestId), requestId, what, this.operationTimeoutMs);
    const r = pick(resp);
    if (!r) throw new PulsarClientError("PROTOCOL", `${what}: unexpected response`);
    if (r.error !== undefined) throw serverError(r.error, r.message, what);
    return r;
  }

  async newTransaction(timeoutMs: number): Promise<Transaction> {
    await this.start();
    const tcId = this.next++ % this.count;
    const r = await this.call(
      tcId,
      (requestId) => ({
        type: CommandType.NEW_TXN,
        // The broker reads this field as milliseconds despite its name (as the Java and Go clients send it).
        newTxn: { requestId, txnTtlSeconds: BigInt(timeoutMs), tcId: BigInt(tcId) },
      }),
      (c) => c.newTxnResponse,
      "new transaction",
    );
    return new Transaction(this, r.txnidMostBits ?? 0n, r.txnidLeastBits ?? 0n, timeoutMs);
  }

  private tcOf(txn: Transaction): number {
    return Number(txn.mostBits % BigInt(Math.max(this.count, 1)));
  }

  async addPartition(txn: Transaction, topic: string): Promise<void> {
    await this.call(
      this.tcOf(txn),
      (requestId) => ({
        type: CommandType.ADD_PARTITION_TO_TXN,
        addPartitionToTxn: {
          requestId,
          txnidMostBits: txn.mostBits,
          txnidLeastBits: txn.leastBits,
          partitions: [topic],
        },
      }),
      (c) => c.addPartitionToTxnResponse,
      `add ${topic} to transaction ${txn.id}`,
    );
  }

  async addSubscription(txn: Transaction, topic: string, subscription: string): Promise<void> {
    await this.call(
      this.tcOf(txn),
      (requestId) => ({
        type: CommandType.ADD_SUBSCRIPTION_TO_TXN,
        addSubscriptionToTxn: {
          requestId,
          txnidMostBits: txn.mostBits,
          txnidLeastBits: txn.leastBits,
          subscription: [{ topic, subscription }],
        },
      }),
      (c) => c.addSubscriptionToTxnResponse,
      `add subscription ${subscription} on ${topic} to transaction ${txn.id}`,
    );
  }

  async end(txn: Transaction, commit: boolean): Promise<void> {
    await this.call(
      this.tcOf(txn),
      (requestId) => ({
        type: CommandType.END_TXN,
        endTxn: { requestId, txnidMostBits: txn.mostBits, txnidLeastBits: txn.leastBits, txnAction: commit ? 0 : 1 },
      }),
      (c) => c.endTxnResponse,
      `${commit ? "commit" : "abort"} transaction ${txn.id}`,
    );
  }
}

/** An open transaction: pass it as `txn` to send() and acknowledge(), then commit() or abort(). */
export class Transaction {
  readonly mostBits: bigint;
  readonly leastBits: bigint;
  readonly timeoutMs: number;
  private stateValue: TransactionState = "OPEN";
  private readonly partitions = new Map<string, Promise<void>>();
  private readonly subscriptions = new Map<string, Promise<void>>();

  /** @internal */
  private readonly tc: TransactionCoordinatorClient;

  constructor(tc: TransactionCoordinatorClient, mostBits: bigint, leastBits: bigint, timeoutMs: number) {
    this.tc = tc;
    this.mostBits = mostBits;
    this.leastBits = leastBits;
    this.timeoutMs = timeoutMs;
  }

  get id(): string {
    return `(${this.mostBits},${this.leastBits})`;
  }

  get state(): TransactionState {
    return this.stateValue;
  }

  private ensureOpen(): void {
    if (this.stateValue !== "OPEN") {
      throw new PulsarClientError("INVALID_TXN_STATUS", `transaction ${this.id} is ${this.stateValue}`);
    }
  }

  /** @internal */
  addPartition(topic: string): Promise<void> {
    this.ensureOpen();
    let p = this.partitions.get(topic);
    if (!p) {
      p = this.tc.addPartition(this, topic);
      p.catch(() => this.partitions.delete(topic));
      this.partitions.set(topic, p);
    }
    return p;
  }

  /** @internal */
  addSubscription(topic: string, subscription: string): Promise<void> {
    this.ensureOpen();
    const key = `${topic}\u0000${subscription}`;
    let p = this.subscriptions.get(key);
    if (!p) {
      p = this.tc.addSubscription(this, topic, subscription);
      p.catch(() => this.subscriptions.delete(key));
      this.subscriptions.set(key, p);
    }
    return p;
  }

  async commit(): Promise<void> {
    this.ensureOpen();
    this.stateValue = "COMMITTING";
    try {
      await this.tc.end(this, true);
      this.stateValue = "COMMITTED";
    } catch (err) {
      this.stateValue = "ERROR";
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.ensureOpen();
    this.stateValue = "ABORTING";
    try {
      await this.tc.end(this, false);
      this.stateValue = "ABORTED";
    } catch (err) {
      this.stateValue = "ERROR";
      throw err;
    }
  }
}
