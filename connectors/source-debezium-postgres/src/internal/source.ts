import {
  ConnectorError,
  type KeyValueSchema,
  type Logger,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import pg from "pg";
import type { PostgresCdcConfig } from "../definition.ts";
import { capturedTables, qualifiedName, quoteIdent, type TableInfo } from "./catalog.ts";
import {
  changeEvent,
  type EventSettings,
  eventSettings,
  keyOf,
  type Operation,
  rowOf,
  TableFilter,
  tableTopic,
} from "./envelope.ts";
import { FlushTracker, type TransactionMark } from "./flush-tracker.ts";
import { splitList } from "./lists.ts";
import { formatLsn, type Lsn, laterLsn, parseLsn } from "./lsn.ts";
import {
  decodePgOutput,
  type PgOutputMessage,
  pgTimeToUnixMs,
  type Relation,
  type RelationColumn,
  type TupleValue,
} from "./pgoutput.ts";
import { changeEventSchema, HEARTBEAT_SCHEMA } from "./record-schema.ts";
import { ReplicationStream } from "./replication-stream.ts";
import { SnapshotReader, type SnapshotRow, type TableProgress } from "./snapshot.ts";
import { convertValue, SESSION_OPTIONS } from "./values.ts";

/** What the connector state keeps per slot. */
interface SavedState {
  /** creating: the slot is being created; snapshot: it exists and the snapshot is not complete; streaming: done. */
  phase: "creating" | "snapshot" | "streaming";
  consistentLsn?: string;
  tables?: Record<string, TableProgress>;
}

/** Bits of a streaming sequence id below the commit position: the index of the change in its transaction. */
const INDEX_BITS = 27n;
/** Bits of the commit position kept in a sequence id; higher bits go into the partitionId (an epoch). */
const LSN_BITS = 36n;
const LSN_MASK = (1n << LSN_BITS) - 1n;
const MAX_INDEX = 1n << INDEX_BITS;

/**
 * The sequence id of change `index` of the transaction committing at `commitLsn`, and the partition (producer) it
 * belongs to. Transactions arrive in commit order, so the ids grow across transactions and within each one, and
 * a change replayed after a restart gets the same id again (broker deduplication then drops it).
 */
export function streamingSequence(
  slot: string,
  commitLsn: Lsn,
  index: number,
): { partitionId: string; sequence: bigint } {
  const epoch = commitLsn >> LSN_BITS;
  if (BigInt(index) >= MAX_INDEX) {
    throw new ConnectorError(
      "UNSUPPORTED",
      `a transaction with more than ${MAX_INDEX} changes cannot get distinct sequence ids (commit ${formatLsn(commitLsn)})`,
      { retryable: false },
    );
  }
  return {
    partitionId: epoch === 0n ? slot : `${slot}@${epoch}`,
    sequence: ((commitLsn & LSN_MASK) << INDEX_BITS) | BigInt(index),
  };
}

const textTypes = { getTypeParser: () => (value: string) => value };

function clientConfig(config: PostgresCdcConfig, replication: boolean): pg.ClientConfig {
  const mode = config["database.sslmode"];
  const settings: pg.ClientConfig & { replication?: string } = {
    host: config["database.hostname"],
    port: config["database.port"],
    user: config["database.user"],
    password: config["database.password"],
    database: config["database.dbname"],
    connectionTimeoutMillis: 10_000,
    options: SESSION_OPTIONS,
    types: textTypes as unknown as pg.CustomTypesConfig,
    application_name: replication ? "pulsar-connect-cdc-stream" : "pulsar-connect-cdc",
  };
  if (mode !== "disable") settings.ssl = { rejectUnauthorized: mode !== "require" };
  if (replication) settings.replication = "database";
  return settings;
}

function connectionError(config: PostgresCdcConfig, error: unknown): ConnectorError {
  const code = (error as { code?: string }).code;
  const where = `${config["database.hostname"]}:${config["database.port"]}/${config["database.dbname"]}`;
  if (code === "28P01" || code === "28000") {
    return new ConnectorError(
      "AUTH_FAILED",
      `PostgreSQL ${where} refused user ${config["database.user"]}: ${(error as Error).message}`,
      {
        retryable: false,
        cause: error,
      },
    );
  }
  return new ConnectorError("CONNECTION_FAILED", `cannot reach PostgreSQL ${where}: ${(error as Error).message}`, {
    retryable: true,
    cause: error,
  });
}

interface OpenTransaction {
  xid: number;
  commitLsn: Lsn;
  commitTimeMs: number;
  index: number;
  mark: TransactionMark;
}

/**
 * Change data capture of one PostgreSQL database: creates or reuses the publication and the logical replication
 * slot, snapshots the captured tables once, then streams their changes. The slot's confirmed position moves only
 * past transactions whose every record Pulsar acknowledged.
 */
export class PostgresCdcSource implements SourceInstance {
  private readonly config: PostgresCdcConfig;
  private readonly context: SourceContext;
  private readonly logger: Logger;
  private readonly settings: EventSettings;
  private readonly filter: TableFilter;
  private readonly slot: string;
  private readonly stateKey: string;
  private readonly skipped: Set<string>;
  private query!: pg.Client;
  private replication: pg.Client | undefined;
  private stream: ReplicationStream | undefined;
  private snapshot: SnapshotReader | undefined;
  private snapshotTxId = 0;
  private snapshotLsn: Lsn = 0n;
  private snapshotStarted = 0;
  private onlySnapshot = false;
  private tables = new Map<number, TableInfo>();
  private readonly relations = new Map<number, Relation>();
  /** The topic schema of each column list (a relation's, or a snapshot batch's), computed once per list. */
  private readonly schemas = new WeakMap<readonly RelationColumn[], KeyValueSchema>();
  private tracker: FlushTracker | undefined;
  private transaction: OpenTransaction | undefined;
  private lastCommitLsn: Lsn | null = null;
  private received: Lsn = 0n;
  private lastHeartbeat: Lsn = 0n;
  private buffer: SourceRecord[] = [];
  private bufferHead = 0;
  private waiter: (() => void) | undefined;
  private failure: ConnectorError | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private state: SavedState | undefined;

  private constructor(config: PostgresCdcConfig, context: SourceContext) {
    this.config = config;
    this.context = context;
    this.logger = context.logger;
    this.settings = eventSettings(config);
    this.filter = new TableFilter(config);
    this.slot = config["slot.name"];
    this.stateKey = `debezium-postgres/${config["database.dbname"]}/${this.slot}`;
    this.skipped = new Set(splitList(config["skipped.operations"]).filter((op) => op !== "none"));
  }

  static async open(config: PostgresCdcConfig, context: SourceContext): Promise<PostgresCdcSource> {
    const source = new PostgresCdcSource(config, context);
    try {
      await source.start();
    } catch (error) {
      await source.release();
      throw error instanceof ConnectorError ? error : connectionError(config, error);
    }
    return source;
  }

  // ------------------------------------------------------------------------------------------------ startup

  private async connect(replication: boolean): Promise<pg.Client> {
    const client = new pg.Client(clientConfig(this.config, replication));
    client.on("error", (error) => this.fail(connectionError(this.config, error)));
    try {
      await client.connect();
    } catch (error) {
      throw connectionError(this.config, error);
    }
    return client;
  }

  private async start(): Promise<void> {
    if (this.context.numInstances > 1) {
      throw new ConnectorError(
        "INVALID_CONFIG",
        `parallelism is ${this.context.numInstances}, and a replication slot streams to one reader: set parallelism to 1 ` +
          "(or run one connector per slot.name with its own table.include.list)",
        { retryable: false },
      );
    }
    this.query = await this.connect(false);
    const wal = await this.query.query<{ wal_level: string }>("SHOW wal_level");
    if (wal.rows[0]?.wal_level !== "logical") {
      throw new ConnectorError(
        "INVALID_CONFIG",
        `PostgreSQL ${this.config["database.hostname"]}:${this.config["database.port"]} runs with wal_level=${wal.rows[0]?.wal_level}; ` +
          "change data capture needs wal_level=logical (postgresql.conf, then a restart)",
        { retryable: false },
      );
    }
    const tables = await capturedTables(this.query, this.filter);
    this.tables = new Map(tables.map((table) => [table.oid, table]));
    const mode = this.config["snapshot.mode"];
    if (mode === "initial_only") {
      // A snapshot without a slot: nothing is streamed afterwards, so no WAL is held back.
      this.onlySnapshot = true;
      await this.beginSnapshot(tables, {}, undefined, 0n);
      return;
    }
    await this.ensurePublication(tables);
    const stored = await this.context.state.get(this.stateKey);
    this.state = stored ? (JSON.parse(new TextDecoder().decode(stored)) as SavedState) : undefined;
    const slot = await this.query.query<{ plugin: string; database: string; confirmed: string | null }>(
      "SELECT plugin, database, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1",
      [this.slot],
    );
    const existing = slot.rows[0];
    const wantsSnapshot = mode === "initial";
    if (!existing) {
      if (this.state && this.state.phase !== "creating") {
        throw new ConnectorError(
          "NOT_FOUND",
          `replication slot '${this.slot}' was dropped: the changes it held after ${this.state.consistentLsn ?? "its creation"} ` +
            "are lost, so the connector does not start from the current position on its own. To start over with a new " +
            "snapshot, configure another slot.name (or delete this connector's state).",
          { retryable: false },
        );
      }
      await this.createSlot(tables, wantsSnapshot);
      return;
    }
    if (existing.plugin !== "pgoutput" || existing.database !== this.config["database.dbname"]) {
      throw new ConnectorError(
        "CONFLICT",
        `replication slot '${this.slot}' belongs to plugin ${existing.plugin} on database ${existing.database}; ` +
          `this connector needs a pgoutput slot on ${this.config["database.dbname"]} (choose another slot.name)`,
        { retryable: false },
      );
    }
    const confirmed = parseLsn(existing.confirmed ?? "0/0");
    if (wantsSnapshot && this.state && this.state.phase !== "streaming") {
      // Interrupted snapshot (or a slot created just before a crash): the exported snapshot is gone; read the rest
      // as it is now, then stream everything since the slot's position.
      this.logger.warn(
        { slot: this.slot },
        "resuming an interrupted snapshot after the last acknowledged row; rows read now show their current values",
      );
      await this.beginSnapshot(tables, this.state.tables ?? {}, undefined, confirmed);
      return;
    }
    if (!this.state) {
      this.logger.warn(
        { slot: this.slot, position: formatLsn(confirmed) },
        "replication slot exists but the connector state has no record of it; streaming from the slot's position without a snapshot",
      );
      await this.saveState({ phase: "streaming", consistentLsn: formatLsn(confirmed) });
    }
    await this.startStreaming(confirmed);
  }

  private async ensurePublication(tables: TableInfo[]): Promise<void> {
    const name = this.config["publication.name"];
    const mode = this.config["publication.autocreate.mode"];
    const found = await this.query.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [name]);
    const list = () => {
      if (tables.length === 0) {
        throw new ConnectorError(
          "INVALID_CONFIG",
          `publication.autocreate.mode=filtered, and no table of ${this.config["database.dbname"]} matches the include/exclude lists`,
          { retryable: false },
        );
      }
      return tables.map((table) => qualifiedName(table.schema, table.table)).join(", ");
    };
    if (found.rowCount === 0) {
      if (mode === "disabled") {
        throw new ConnectorError(
          "NOT_FOUND",
          `publication '${name}' does not exist and publication.autocreate.mode is disabled: create it (CREATE PUBLICATION ${name} FOR ...)`,
          { retryable: false },
        );
      }
      const target = mode === "all_tables" ? "ALL TABLES" : `TABLE ${list()}`;
      await this.query.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR ${target}`);
    } else if (mode === "filtered") {
      await this.query.query(`ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list()}`);
    }
  }

  private async createSlot(tables: TableInfo[], wantsSnapshot: boolean): Promise<void> {
    await this.saveState({ phase: "creating" });
    this.replication = await this.connect(true);
    const created = await this.replication.query<{ consistent_point: string; snapshot_name: string | null }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(this.slot)} LOGICAL pgoutput ${wantsSnapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT"}`,
    );
    const row = created.rows[0];
    const consistent = parseLsn(row?.consistent_point ?? "0/0");
    this.logger.info({ slot: this.slot, position: formatLsn(consistent) }, "replication slot created");
    if (!wantsSnapshot) {
      await this.saveState({ phase: "streaming", consistentLsn: formatLsn(consistent) });
      await this.startStreaming(consistent);
      return;
    }
    await this.saveState({ phase: "snapshot", consistentLsn: formatLsn(consistent), tables: {} });
    await this.beginSnapshot(tables, {}, row?.snapshot_name ?? undefined, consistent);
  }

  private async beginSnapshot(
    tables: TableInfo[],
    progress: Record<string, TableProgress>,
    exported: string | undefined,
    lsn: Lsn,
  ): Promise<void> {
    this.snapshot = new SnapshotReader(this.query, tables, progress, this.config["snapshot.fetch.size"]);
    this.snapshotTxId = await this.snapshot.begin(exported);
    this.snapshotLsn = lsn;
    this.snapshotStarted = Date.now();
    this.every(this.config["status.update.interval.ms"], () => void this.saveSnapshotProgress());
  }

  private async saveSnapshotProgress(): Promise<void> {
    if (!this.snapshot || this.onlySnapshot || !this.state || this.state.phase !== "snapshot") return;
    await this.saveState({ ...this.state, tables: this.snapshot.progress() }).catch((error: unknown) => {
      this.logger.warn({ error: (error as Error).message }, "could not save the snapshot progress; retrying later");
    });
  }

  private async finishSnapshot(): Promise<void> {
    const snapshot = this.snapshot as SnapshotReader;
    await snapshot.end();
    this.snapshot = undefined;
    this.logger.info({ slot: this.slot }, "snapshot complete");
    if (this.onlySnapshot) return;
    await this.saveState({ phase: "streaming", consistentLsn: formatLsn(this.snapshotLsn) });
    await this.startStreaming(this.snapshotLsn);
  }

  private async startStreaming(from: Lsn): Promise<void> {
    this.replication ??= await this.connect(true);
    this.tracker = new FlushTracker(from);
    this.received = from;
    this.stream = await ReplicationStream.start(
      this.replication,
      { slot: this.slot, publication: this.config["publication.name"], startLsn: from },
      {
        onData: (walStart, _walEnd, payload) => this.onData(walStart, payload),
        onKeepalive: (walEnd, reply) => this.onKeepalive(walEnd, reply),
      },
    );
    this.stream.ended.then(
      () =>
        this.fail(new ConnectorError("READ_FAILED", "PostgreSQL ended the replication stream", { retryable: true })),
      (error: unknown) =>
        this.fail(
          new ConnectorError(
            "READ_FAILED",
            `replication stream of slot '${this.slot}' failed: ${(error as Error).message}`,
            {
              retryable: true,
              cause: error,
            },
          ),
        ),
    );
    this.every(this.config["status.update.interval.ms"], () => this.reportStatus());
    const heartbeat = this.config["heartbeat.interval.ms"];
    if (heartbeat > 0) this.every(heartbeat, () => void this.heartbeat());
    this.logger.info({ slot: this.slot, from: formatLsn(from) }, "streaming changes");
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async saveState(state: SavedState): Promise<void> {
    this.state = state;
    await this.context.state.put(this.stateKey, new TextEncoder().encode(JSON.stringify(state)));
  }

  // ---------------------------------------------------------------------------------------------- streaming

  private onData(walStart: Lsn, payload: Buffer): void {
    if (this.closed || this.failure) return;
    if (walStart > this.received) this.received = walStart;
    let message: PgOutputMessage;
    try {
      message = decodePgOutput(payload);
      this.apply(message, walStart);
    } catch (error) {
      this.fail(
        error instanceof ConnectorError
          ? error
          : new ConnectorError("READ_FAILED", `cannot decode the replication stream: ${(error as Error).message}`, {
              retryable: false,
              cause: error,
            }),
      );
    }
  }

  private apply(message: PgOutputMessage, lsn: Lsn): void {
    const tracker = this.tracker as FlushTracker;
    switch (message.tag) {
      case "begin":
        this.transaction = {
          xid: message.xid,
          commitLsn: message.finalLsn,
          commitTimeMs: pgTimeToUnixMs(message.commitTime),
          index: 0,
          mark: tracker.begin(),
        };
        return;
      case "commit":
        this.transaction = undefined;
        this.lastCommitLsn = message.commitLsn;
        tracker.commit(message.endLsn);
        return;
      case "relation":
        this.relations.set(message.relation.relationId, message.relation);
        if (!this.tables.has(message.relation.relationId)) void this.learnTable(message.relation);
        return;
      case "insert":
        this.change(message.relationId, "c", null, message.newTuple, undefined, lsn);
        return;
      case "update":
        this.change(message.relationId, "u", message.oldTuple ?? null, message.newTuple, message.oldKind, lsn);
        return;
      case "delete":
        this.change(message.relationId, "d", message.oldTuple, null, message.oldKind, lsn);
        return;
      case "truncate":
        for (const relationId of message.relationIds) this.truncate(relationId, lsn);
        return;
      default:
        return;
    }
  }

  /** A table that appeared after the start (or was renamed): its primary key, for the record keys. */
  private async learnTable(relation: Relation): Promise<void> {
    try {
      const tables = await capturedTables(this.query, this.filter);
      for (const table of tables) if (!this.tables.has(table.oid)) this.tables.set(table.oid, table);
    } catch (error) {
      this.logger.debug({ error: (error as Error).message, table: relation.table }, "primary key lookup failed");
    }
  }

  private keyColumns(relation: Relation): string[] {
    const known = this.tables.get(relation.relationId);
    if (known && known.schema === relation.schema && known.table === relation.table) return known.primaryKey;
    if (relation.replicaIdentity === "f" || relation.replicaIdentity === "n") return [];
    return relation.columns.filter((column) => column.isKey).map((column) => column.name);
  }

  private change(
    relationId: number,
    op: Operation,
    oldTuple: TupleValue[] | null,
    newTuple: TupleValue[] | null,
    oldKind: "key" | "old" | undefined,
    lsn: Lsn,
  ): void {
    const relation = this.relations.get(relationId);
    const transaction = this.transaction;
    if (!relation || !transaction) throw new Error(`change of unknown relation ${relationId} outside a transaction`);
    if (!this.filter.includes(relation.schema, relation.table) || this.skipped.has(op)) return;
    const before = oldTuple ? rowOf(relation.columns, oldTuple, this.settings, oldKind === "key") : null;
    const after = newTuple ? rowOf(relation.columns, newTuple, this.settings) : null;
    const keyColumns = this.keyColumns(relation);
    const value = changeEvent(op, before, after, this.sourceInfo(relation, transaction, lsn), this.settings);
    this.push(relation, transaction, lsn, value, keyOf(after ?? before, keyColumns), keyColumns);
  }

  private truncate(relationId: number, lsn: Lsn): void {
    const relation = this.relations.get(relationId);
    const transaction = this.transaction;
    if (!relation || !transaction) return;
    if (!this.filter.includes(relation.schema, relation.table) || this.skipped.has("t")) return;
    const value = changeEvent("t", null, null, this.sourceInfo(relation, transaction, lsn), this.settings);
    this.push(relation, transaction, lsn, value, undefined, this.keyColumns(relation));
  }

  private sourceInfo(relation: Relation, transaction: OpenTransaction, lsn: Lsn) {
    return {
      db: this.config["database.dbname"],
      schema: relation.schema,
      table: relation.table,
      tsMs: transaction.commitTimeMs,
      txId: transaction.xid,
      lsn,
      lastCommitLsn: this.lastCommitLsn,
      snapshot: "false" as const,
    };
  }

  private push(
    relation: Relation,
    transaction: OpenTransaction,
    _lsn: Lsn,
    value: string,
    key: string | undefined,
    keyColumns: readonly string[],
  ): void {
    const tracker = this.tracker as FlushTracker;
    const { partitionId, sequence } = streamingSequence(this.slot, transaction.commitLsn, transaction.index);
    transaction.index += 1;
    const mark = transaction.mark;
    tracker.handOut(mark);
    let settled = false;
    const topic = tableTopic(this.settings.serverName, relation.schema, relation.table);
    const record: SourceRecord = {
      value: { key: key ?? null, value },
      schema: this.schemaOf(topic, relation.columns, keyColumns),
      destinationTopic: topic,
      eventTime: transaction.commitTimeMs,
      partitionId,
      sequence,
      ack: () => {
        if (settled) return;
        settled = true;
        tracker.ack(mark);
      },
    };
    this.buffer.push(record);
    if (this.buffered() >= this.config["max.queue.size"]) this.stream?.pause();
    this.wake();
  }

  private onKeepalive(walEnd: Lsn, replyRequested: boolean): void {
    if (walEnd > this.received && this.transaction === undefined) this.received = walEnd;
    this.tracker?.idleAt(walEnd);
    if (replyRequested) this.reportStatus();
  }

  /** Sends the confirmed position; asks for a keepalive when idle, so an idle slot follows the server's WAL. */
  private reportStatus(): void {
    const tracker = this.tracker;
    if (!tracker || !this.stream || this.closed) return;
    const confirmed = tracker.confirmed;
    const idle = tracker.pendingTransactions === 0 && this.transaction === undefined;
    try {
      this.stream.sendStatus(laterLsn(this.received, confirmed), confirmed, idle);
    } catch (error) {
      this.fail(connectionError(this.config, error));
    }
  }

  private schemaOf(topic: string, columns: readonly RelationColumn[], keyColumns: readonly string[]): KeyValueSchema {
    let schema = this.schemas.get(columns);
    if (!schema) {
      schema = changeEventSchema(topic, columns, keyColumns, this.settings.values);
      this.schemas.set(columns, schema);
    }
    return schema;
  }

  private async heartbeat(): Promise<void> {
    if (this.closed || this.failure) return;
    const action = this.config["heartbeat.action.query"];
    if (action) {
      await this.query.query(action).catch((error: unknown) => {
        this.logger.warn({ error: (error as Error).message }, "heartbeat.action.query failed");
      });
    }
    this.reportStatus();
    const position = this.received;
    if (position <= this.lastHeartbeat || this.buffered() >= this.config["max.queue.size"]) return;
    this.lastHeartbeat = position;
    const serverName = this.settings.serverName;
    this.buffer.push({
      value: { key: JSON.stringify({ serverName }), value: JSON.stringify({ ts_ms: Date.now() }) },
      schema: HEARTBEAT_SCHEMA,
      destinationTopic: `${this.config["topic.heartbeat.prefix"]}.${serverName}`,
      partitionId: `${this.slot}:heartbeat`,
      sequence: position,
    });
    this.wake();
  }

  // --------------------------------------------------------------------------------------------------- read

  private snapshotRecord(row: SnapshotRow): SourceRecord {
    const snapshot = this.snapshot as SnapshotReader;
    const after: Record<string, unknown> = {};
    row.columns.forEach((column, index) => {
      const text = row.values[index];
      after[column.name] =
        text === null || text === undefined
          ? null
          : convertValue(text, column.typeOid, column.typeModifier, this.settings.values);
    });
    const { table } = row;
    const value = changeEvent(
      "r",
      null,
      after,
      {
        db: this.config["database.dbname"],
        schema: table.schema,
        table: table.table,
        tsMs: this.snapshotStarted,
        txId: this.snapshotTxId,
        lsn: this.snapshotLsn,
        lastCommitLsn: null,
        snapshot: "true",
      },
      this.settings,
    );
    const topic = tableTopic(this.settings.serverName, table.schema, table.table);
    return {
      value: { key: keyOf(after, table.primaryKey) ?? null, value },
      schema: this.schemaOf(topic, row.columns, table.primaryKey),
      destinationTopic: topic,
      eventTime: this.snapshotStarted,
      partitionId: `${this.slot}:snapshot`,
      sequence: BigInt(row.ordinal),
      ack: () => snapshot.ack(table, row.ordinal),
    };
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[] | null> {
    if (this.failure) throw this.failure;
    if (this.snapshot) {
      if (!this.snapshot.finishedReading) {
        let rows: SnapshotRow[];
        try {
          rows = await this.snapshot.next(maxRecords);
        } catch (error) {
          // The snapshot transaction is unusable after an error (a table dropped meanwhile, a lost connection): the
          // instance restarts and resumes after the last acknowledged row, listing the tables again.
          this.fail(
            new ConnectorError("READ_FAILED", `snapshot read failed: ${(error as Error).message}`, { cause: error }),
          );
          throw this.failure;
        }
        if (rows.length > 0) return rows.map((row) => this.snapshotRecord(row));
      }
      if (!this.snapshot.allAcked) {
        await this.idle(signal, Math.min(50, this.config["poll.interval.ms"]));
        return [];
      }
      await this.finishSnapshot();
      if (this.onlySnapshot) return null;
      return [];
    }
    if (this.onlySnapshot) return null;
    if (this.buffered() === 0) await this.idle(signal, this.config["poll.interval.ms"]);
    if (this.failure) throw this.failure;
    const count = Math.min(maxRecords, this.buffered());
    const records = this.buffer.slice(this.bufferHead, this.bufferHead + count);
    this.bufferHead += count;
    if (this.bufferHead > 4096 && this.bufferHead * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
    if (this.buffered() <= this.config["max.queue.size"] / 2) this.stream?.resume();
    return records;
  }

  private buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  private idle(signal: AbortSignal, ms: number): Promise<void> {
    if (signal.aborted || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.waiter = done;
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private fail(error: ConnectorError): void {
    if (this.closed || this.failure) return;
    this.failure = error;
    this.logger.error({ error: error.message }, "change data capture stopped");
    this.context.fatal(error);
    this.wake();
  }

  // -------------------------------------------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.snapshot) await this.saveSnapshotProgress();
    this.reportStatus();
    await this.untilServerConfirmed();
    this.closed = true;
    this.wake();
    await this.release();
  }

  /**
   * Waits (a few seconds at most) until the slot shows the position just reported: the status message is only sent,
   * and a source opened right after this one reads the slot's position, which the server may not have taken yet.
   */
  private async untilServerConfirmed(): Promise<void> {
    const confirmed = this.tracker?.confirmed;
    if (confirmed === undefined || confirmed === 0n || !this.stream || this.onlySnapshot) return;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const result = await this.query
        .query<{ confirmed: string | null }>(
          "SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1",
          [this.slot],
        )
        .catch(() => undefined);
      const shown = result?.rows[0]?.confirmed;
      if (!result || shown === undefined || (shown !== null && parseLsn(shown) >= confirmed)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async release(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.replication?.end().catch(() => undefined);
    this.replication = undefined;
    if (this.config["slot.drop.on.stop"] && this.query && !this.onlySnapshot) await this.dropSlot();
    await this.query?.end().catch(() => undefined);
  }

  private async dropSlot(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await this.query.query(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
          [this.slot],
        );
        await this.context.state.delete(this.stateKey);
        return;
      } catch (error) {
        // The server releases the slot a moment after the stream's connection closed.
        if ((error as { code?: string }).code !== "55006") throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
