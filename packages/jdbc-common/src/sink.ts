import {
  ConnectorError,
  defineSink,
  type FieldIssue,
  type PulsarPosition,
  type RecordFailure,
  type SinkContext,
  type SinkDefinition,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import {
  type JdbcSinkConfig,
  type JdbcSinkConfigSchema,
  jdbcSinkConfigSchema,
  splitColumnList,
  transactionSize,
} from "./config.ts";
import type { SqlConnection, SqlDialect, TableColumn } from "./dialect.ts";
import { type PreparedRow, prepareRows, type RowProblem } from "./internal/rows.ts";
import { buildStatement, planStatements, type StatementUnit } from "./internal/statements.ts";
import { parseTableName, Table } from "./internal/table.ts";
import { DatabaseTlsError } from "./tls.ts";
import { type DatabaseUrl, DatabaseUrlError, parseDatabaseUrl } from "./url.ts";

/** Name of the table holding the last written Pulsar position per connector and topic. */
export const POSITIONS_TABLE = "pulsar_connect_positions";

/** What {@link defineJdbcSink} needs. */
export interface JdbcSinkOptions {
  /** Connector name (`jdbc-postgres`). */
  name: string;
  /** One line for `available-sinks`. */
  description: string;
  /** The database specifics. */
  dialect: SqlDialect;
}

/** How long a table description is trusted before an unknown field makes the sink look again. */
const TABLE_REFRESH_MS = 5_000;

/** Declares a JDBC sink for a dialect: upstream config, column mapping, batching and effectively-once positions. */
export function defineJdbcSink(options: JdbcSinkOptions): SinkDefinition<JdbcSinkConfigSchema> {
  const { dialect } = options;
  const config = jdbcSinkConfigSchema({
    urlExample: dialect.urlExample,
    checkUrl(url) {
      try {
        return dialect.checkUrl(parseDatabaseUrl(url));
      } catch (error) {
        if (error instanceof DatabaseUrlError) return `${error.message}; expected e.g. ${dialect.urlExample}`;
        if (error instanceof DatabaseTlsError) return error.message;
        if (error instanceof ConnectorError && error.code === "INVALID_CONFIG") return error.message;
        throw error;
      }
    },
  });
  return defineSink({
    name: options.name,
    description: options.description,
    config,
    storesPositions: true,
    // Records per write, and so per transaction when maxQueueSize does not split it: the commit is the larger cost
    // per batch (tooling/bench jdbc-sink-write), and the runtime does not wait for a batch to fill up.
    batchSize: 10_000,
    async open(settings, context) {
      const writer = new JdbcWriter(dialect, settings, context);
      await writer.start();
      return writer.instance();
    },
  });
}

/** One sink instance: a connection, the table description, and writes serialized one after the other. */
class JdbcWriter {
  private readonly dialect: SqlDialect;
  private readonly config: JdbcSinkConfig;
  private readonly context: SinkContext;
  private readonly url: DatabaseUrl;
  private readonly connectorName: string;
  private connection: SqlConnection | undefined;
  private table: Table | undefined;
  private tableDescribedAt = 0;
  /** Set when the table's writes do not roll back: then one row per statement and no bulk writes. */
  private nonTransactionalEngine: string | undefined;
  /** A failure after which writing again could store rows twice: every later write is refused with it. */
  private halted: ConnectorError | undefined;
  private keyColumns: TableColumn[] = [];
  private nonKeyColumns: TableColumn[] | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  /** The last transaction, when the connection was lost while committing it. */
  private uncertain: { records: SinkRecord[]; positions: PulsarPosition[] } | undefined;
  private closed = false;

  constructor(dialect: SqlDialect, config: JdbcSinkConfig, context: SinkContext) {
    this.dialect = dialect;
    this.config = config;
    this.context = context;
    this.url = parseDatabaseUrl(config.jdbcUrl);
    this.connectorName = `${context.tenant}/${context.namespace}/${context.name}`;
  }

  instance(): SinkInstance {
    return {
      write: (records) => this.serialized(() => this.write(records)),
      storedPositions: () => this.serialized(() => this.storedPositions()),
      close: () => this.serialized(() => this.close()),
    };
  }

  async start(): Promise<void> {
    const connection = await this.connect();
    try {
      await this.describeTable(connection);
      await connection.execute(this.dialect.positionsTableDdl).catch(async (error: unknown) => {
        // Two instances creating the table at once: the loser sees a duplicate; fine if the table is there now.
        await connection.execute(`SELECT 1 FROM ${POSITIONS_TABLE} WHERE 1 = 0`).catch(() => {
          throw error;
        });
      });
    } catch (error) {
      await this.dropConnection();
      throw this.toWriteError(error, "could not prepare the sink");
    }
    this.context.logger.info(
      {
        table: this.table?.displayName(),
        columns: this.table?.columns.length,
        key: this.keyColumns.map((c) => c.name),
      },
      `${this.dialect.name} sink ready`,
    );
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async connect(): Promise<SqlConnection> {
    if (this.closed) throw new ConnectorError("CLOSED", "the sink is closed");
    if (this.connection !== undefined) return this.connection;
    try {
      this.connection = await this.dialect.connect(this.config, this.url);
    } catch (error) {
      throw new ConnectorError("CONNECTION_FAILED", `could not connect to ${this.dialect.name}: ${messageOf(error)}`, {
        cause: error,
        retryable: true,
      });
    }
    return this.connection;
  }

  private async dropConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private async describeTable(connection: SqlConnection): Promise<void> {
    const ref = parseTableName(this.config.tableName);
    const columns = await this.dialect.describeTable(connection, ref);
    if (columns.length === 0) {
      throw new ConnectorError("NOT_FOUND", `table ${this.config.tableName} does not exist or has no columns`, {
        issues: [{ path: "configs.tableName", message: "no such table" }],
      });
    }
    const table = new Table(ref, columns, this.dialect);
    const issues: FieldIssue[] = [];
    const resolve = (list: string, path: string) =>
      splitColumnList(list).flatMap((name) => {
        const column = table.column(name);
        if (column === undefined)
          issues.push({ path, message: `column "${name}" is not in table ${table.displayName()}` });
        return column === undefined ? [] : [column];
      });
    const keyColumns = this.config.key.trim() === "" ? table.primaryKey() : resolve(this.config.key, "configs.key");
    const nonKeyColumns = this.config.nonKey.trim() === "" ? undefined : resolve(this.config.nonKey, "configs.nonKey");
    const needsKey = this.config.insertMode !== "INSERT" || this.config.nullValueAction === "DELETE";
    if (needsKey && keyColumns.length === 0 && issues.length === 0) {
      issues.push({
        path: "configs.key",
        message: `must name the key columns: table ${table.displayName()} has no primary key`,
      });
    }
    if (issues.length > 0) {
      throw new ConnectorError(
        "INVALID_CONFIG",
        `Invalid connector config: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`,
        { issues },
      );
    }
    const engine = await this.dialect.nonTransactionalEngine?.(connection, ref);
    if (engine !== undefined && engine !== this.nonTransactionalEngine) {
      this.context.logger.warn(
        { table: table.displayName(), engine },
        "the table's engine does not roll back writes: rows are written one per statement",
      );
    }
    this.nonTransactionalEngine = engine;
    this.table = table;
    this.keyColumns = keyColumns;
    this.nonKeyColumns = nonKeyColumns;
    this.tableDescribedAt = Date.now();
  }

  /**
   * Under EFFECTIVELY_ONCE the stored position must never cover a record that is not written: the runtime resumes
   * after it. The sink then commits only up to a refused record and reports the later ones as not written yet.
   */
  private get ordered(): boolean {
    return this.config.useTransactions && this.context.processingGuarantee === "EFFECTIVELY_ONCE";
  }

  private async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    if (this.halted !== undefined) throw this.halted;
    if (records.length === 0) return;
    const size = transactionSize(this.config);
    const failed: RecordFailure[] = [];
    for (let start = 0; start < records.length; start += size) {
      const slice = records.length <= size ? records : records.slice(start, start + size);
      let sliceFailures: RecordFailure[];
      try {
        sliceFailures = await this.writeTransaction(slice, start);
      } catch (error) {
        if (error instanceof ConnectorError && error.code === "FATAL") {
          // Rows may be stored that the database reported refused: nothing is written again, the instance ends.
          this.halted = error;
          this.context.fatal(error);
          throw error;
        }
        if (start === 0) throw error;
        // The earlier transactions are committed: only this one and the later ones are to be written again.
        failed.push(...notWritten(start, records.length, `a transaction failed: ${messageOf(error)}`));
        break;
      }
      failed.push(...sliceFailures);
      if (this.ordered && sliceFailures.length > 0) {
        failed.push(...notWritten(start + slice.length, records.length, "an earlier record was refused"));
        break;
      }
    }
    return failed.length > 0 ? { failed } : undefined;
  }

  /** Writes the records before `refused` (absolute index) in their own transaction; reports the rest. */
  private async writePrefix(
    records: readonly SinkRecord[],
    offset: number,
    refused: RecordFailure,
  ): Promise<RecordFailure[]> {
    const end = offset + records.length;
    const prefix = records.slice(0, refused.index - offset);
    const failures = prefix.length > 0 ? await this.writeTransaction(prefix, offset) : [];
    if (failures.length > 0) return [...failures, ...notWritten(refused.index, end, "an earlier record was refused")];
    return [refused, ...notWritten(refused.index + 1, end, "an earlier record was refused")];
  }

  private async writeTransaction(records: readonly SinkRecord[], offset: number): Promise<RecordFailure[]> {
    const connection = await this.connect();
    let prepared = this.prepare(records, offset);
    if (
      prepared.problems.some((problem) => problem.unknownField) &&
      Date.now() - this.tableDescribedAt > TABLE_REFRESH_MS
    ) {
      // The table may have gained columns since it was described.
      try {
        await this.describeTable(connection);
      } catch (error) {
        throw this.toWriteError(error, "could not describe the table");
      }
      prepared = this.prepare(records, offset);
    }
    const failures: RecordFailure[] = prepared.problems.map((problem) => ({
      index: problem.index,
      error: new ConnectorError("INVALID_RECORD", problem.message),
    }));
    const firstProblem = failures.reduce<RecordFailure | undefined>(
      (first, failure) => (first === undefined || failure.index < first.index ? failure : first),
      undefined,
    );
    if (this.ordered && firstProblem !== undefined) return this.writePrefix(records, offset, firstProblem);
    const positions = lastPositions(records);
    const alreadyWritten = await this.resolveUncertainCommit(connection);
    const rows =
      alreadyWritten.size === 0
        ? prepared.rows
        : prepared.rows.filter((row) => !alreadyWritten.has(records[row.index - offset]?.messageId ?? ""));
    const transactional = this.config.useTransactions;
    const isolate = transactional && this.dialect.failedStatementAbortsTransaction;
    try {
      // Happy path without savepoints; a refused record sends the batch through the slower isolating path.
      failures.push(
        ...(await this.attemptFenced(connection, records, offset, rows, isolate ? "all-or-nothing" : "per-record")),
      );
    } catch (error) {
      if (error instanceof RowsRefused) return this.writePrefix(records, offset, error.first);
      if (error instanceof CommitUncertain) this.uncertain = { records: [...records], positions };
      if (!(error instanceof RecordRefused)) throw this.toWriteError(error, "write failed");
      this.context.logger.debug(
        { reason: messageOf(error.cause) },
        "a record was refused; writing the batch record by record",
      );
      try {
        failures.push(...(await this.attemptFenced(connection, records, offset, rows, "savepoints")));
      } catch (retryError) {
        if (retryError instanceof RowsRefused) return this.writePrefix(records, offset, retryError.first);
        if (retryError instanceof CommitUncertain) this.uncertain = { records: [...records], positions };
        throw this.toWriteError(retryError, "write failed");
      }
    }
    return failures.sort((a, b) => a.index - b.index);
  }

  /**
   * After a commit whose outcome is unknown, looks at the stored positions: when they are the ones that transaction
   * wrote, it was committed, and its records (which the runtime hands over again) must not be written twice.
   * Returns the message ids to skip.
   */
  private async resolveUncertainCommit(connection: SqlConnection): Promise<Set<string>> {
    const uncertain = this.uncertain;
    if (uncertain === undefined) return new Set();
    let stored: PulsarPosition[];
    try {
      stored = await this.readPositions(connection);
    } catch (error) {
      throw this.toWriteError(error, "could not read the stored positions");
    }
    this.uncertain = undefined;
    const committed = uncertain.positions.every((position) =>
      stored.some(
        (candidate) =>
          candidate.topic === position.topic &&
          candidate.ledgerId === position.ledgerId &&
          candidate.entryId === position.entryId &&
          candidate.batchIndex === position.batchIndex,
      ),
    );
    if (!committed) return new Set();
    this.context.logger.info(
      { records: uncertain.records.length },
      "the transaction interrupted while committing was committed; its records are not written again",
    );
    return new Set(uncertain.records.map((record) => record.messageId));
  }

  private prepare(records: readonly SinkRecord[], offset: number): { rows: PreparedRow[]; problems: RowProblem[] } {
    const table = this.table;
    if (table === undefined) throw new ConnectorError("INTERNAL", "the table was not described");
    return prepareRows(
      records,
      {
        config: this.config,
        dialect: this.dialect,
        table,
        keyColumns: this.keyColumns,
        nonKeyColumns: this.nonKeyColumns,
      },
      offset,
    );
  }

  /** Statements of at most `batchSize` rows; with `bulk`, groups as large as the dialect's bulk write takes. */
  private plan(rows: readonly PreparedRow[], bulk = false): StatementUnit[] {
    const table = this.table;
    if (table === undefined) throw new ConnectorError("INTERNAL", "the table was not described");
    const perStatement =
      this.nonTransactionalEngine !== undefined
        ? 1
        : this.config.batchSize > 0
          ? this.config.batchSize
          : Number.POSITIVE_INFINITY;
    return planStatements(rows, table.quotedName, this.dialect, perStatement, bulk);
  }

  /**
   * Writes `rows` of `records` in one attempt. Under EFFECTIVELY_ONCE the transaction first reads the stored positions
   * under a row lock: when another instance of the connector already committed some of these records (it owned the
   * partition before a Failover switch, or after it), they are left out and the attempt is made again.
   */
  private async attemptFenced(
    connection: SqlConnection,
    records: readonly SinkRecord[],
    offset: number,
    rows: readonly PreparedRow[],
    mode: "all-or-nothing" | "per-record" | "savepoints",
  ): Promise<RecordFailure[]> {
    if (!this.ordered) return this.attempt(connection, rows, lastPositions(records), mode);
    let stored: ReadonlyMap<string, PulsarPosition> = new Map();
    for (let round = 0; ; round += 1) {
      const open = stored.size === 0 ? records : records.filter((record) => !coveredBy(stored, record.position));
      const kept =
        stored.size === 0
          ? rows
          : rows.filter((row) => {
              const record = records[row.index - offset];
              return record !== undefined && !coveredBy(stored, record.position);
            });
      try {
        return await this.attempt(connection, kept, lastPositions(open), mode, firstPositions(open));
      } catch (error) {
        if (!(error instanceof AlreadyStored) || round >= MAX_FENCE_ROUNDS) throw error;
        stored = error.stored;
        this.context.logger.info(
          { positions: [...stored.values()].map(formatPosition) },
          "another instance already stored some of these records; writing only what lies beyond",
        );
      }
    }
  }

  /**
   * Locks this connector's position rows of the topics of `first` (creating them when missing, so that two first
   * writes meet too) and throws {@link AlreadyStored} when a stored position reaches a record about to be written.
   */
  private async fence(connection: SqlConnection, first: readonly PulsarPosition[]): Promise<void> {
    if (first.length === 0) return;
    const { dialect } = this;
    const q = (name: string) => dialect.quoteIdentifier(name);
    const params: unknown[] = [];
    const bind = (value: unknown) => {
      params.push(dialect.toParameter(value, undefined));
      return dialect.placeholder(params.length);
    };
    const tuples = first.map(
      (position) => `(${[this.connectorName, position.topic, -1, -1, -1].map(bind).join(", ")})`,
    );
    await connection.execute(
      `INSERT INTO ${POSITIONS_TABLE} (${q("connector_name")}, ${q("topic")}, ${q("ledger_id")}, ${q("entry_id")}, ${q("batch_index")}) VALUES ${tuples.join(", ")}` +
        dialect.upsertClause([q("connector_name"), q("topic")], []),
      params,
    );
    params.length = 0;
    const connector = bind(this.connectorName);
    const topics = first.map((position) => bind(position.topic)).join(", ");
    const result = await connection.execute(
      `SELECT ${q("topic")}, ${q("ledger_id")}, ${q("entry_id")}, ${q("batch_index")} FROM ${POSITIONS_TABLE} WHERE ${q("connector_name")} = ${connector} AND ${q("topic")} IN (${topics})${dialect.lockingReadSuffix ?? ""}`,
      params,
    );
    const stored = new Map<string, PulsarPosition>();
    for (const row of result.rows) {
      const position = {
        topic: String(row.topic),
        ledgerId: BigInt(row.ledger_id as string | number | bigint),
        entryId: BigInt(row.entry_id as string | number | bigint),
        batchIndex: Number(row.batch_index),
      };
      if (position.ledgerId >= 0n) stored.set(position.topic, position);
    }
    if (first.some((position) => coveredBy(stored, position))) throw new AlreadyStored(stored);
  }

  /**
   * Runs the statements and stores the positions, in one transaction when configured.
   * - all-or-nothing: a refused statement aborts (RecordRefused) so the caller can retry with savepoints;
   * - per-record: a refused statement is retried row by row (the database undid just that statement);
   * - savepoints: like per-record, each statement guarded by a savepoint (the database aborts the transaction otherwise).
   */
  private async attempt(
    connection: SqlConnection,
    rows: readonly PreparedRow[],
    positions: readonly PulsarPosition[],
    mode: "all-or-nothing" | "per-record" | "savepoints",
    fence?: readonly PulsarPosition[],
  ): Promise<RecordFailure[]> {
    const transactional = this.config.useTransactions;
    const failures: RecordFailure[] = [];
    if (transactional) await connection.execute("BEGIN");
    try {
      if (fence) await this.fence(connection, fence);
      // Where a refused statement leaves the transaction usable, a refused bulk write is narrowed down statement by
      // statement (the dialect's bulk write writes all of its rows or none).
      const bulk =
        this.dialect.bulkWrite !== undefined &&
        this.nonTransactionalEngine === undefined &&
        (mode === "all-or-nothing" ||
          (mode === "per-record" && transactional && !this.dialect.failedStatementAbortsTransaction));
      for (const unit of this.plan(rows, bulk)) {
        if (mode === "all-or-nothing") {
          try {
            if (!(await this.bulkWrite(connection, unit))) {
              for (const statement of bulk ? this.plan(unit.rows) : [unit]) {
                await connection.execute(statement.sql, statement.params);
              }
            }
          } catch (error) {
            if (this.dialect.classifyError(error) === "record") throw new RecordRefused(error);
            throw error;
          }
        } else {
          if (bulk) await this.runBulkIsolated(connection, unit, failures);
          else await this.runIsolated(connection, unit, mode === "savepoints", failures);
          if (this.ordered && failures.length > 0) throw new RowsRefused(failures);
        }
      }
      await this.storePositions(connection, positions);
      if (transactional) {
        try {
          await connection.execute("COMMIT");
        } catch (error) {
          // The connection died while committing: the transaction may or may not have been committed.
          if (this.dialect.classifyError(error) === "connection") throw new CommitUncertain(error);
          throw error;
        }
      }
    } catch (error) {
      const lost =
        error instanceof CommitUncertain ||
        (!(error instanceof RecordRefused) &&
          !(error instanceof RowsRefused) &&
          this.dialect.classifyError(error) === "connection");
      if (transactional && !lost) {
        await connection.execute("ROLLBACK").catch(() => undefined);
      }
      throw error;
    }
    return failures;
  }

  /**
   * Hands a multi-row INSERT or UPSERT to the dialect's bulk write (PostgreSQL COPY); false when it is not used.
   * Only on the all-or-nothing path: a refused row then aborts the attempt, and the retry finds it statement by
   * statement.
   */
  private async bulkWrite(connection: SqlConnection, unit: StatementUnit): Promise<boolean> {
    const first = unit.rows[0];
    if (this.dialect.bulkWrite === undefined || this.nonTransactionalEngine !== undefined) return false;
    if (first === undefined || unit.rows.length < 2) return false;
    if (first.mutation !== "INSERT" && first.mutation !== "UPSERT") return false;
    return this.dialect.bulkWrite(connection, {
      table: (this.table as Table).quotedName,
      columns: first.columns,
      types: first.types,
      values: unit.rows.map((row) => row.values),
      ...(first.mutation === "UPSERT" ? { upsert: { keys: first.keys, updates: first.updates } } : {}),
    });
  }

  /**
   * Hands a group of rows to the dialect's bulk write; when it declines them or the database refuses them (having
   * written none), runs them as statements, each isolated as {@link runIsolated} does.
   */
  private async runBulkIsolated(
    connection: SqlConnection,
    unit: StatementUnit,
    failures: RecordFailure[],
  ): Promise<void> {
    try {
      if (await this.bulkWrite(connection, unit)) return;
    } catch (error) {
      if (this.dialect.classifyError(error) !== "record") throw error;
    }
    for (const statement of this.plan(unit.rows)) await this.runIsolated(connection, statement, false, failures);
  }

  /** Runs a statement; when the database refuses it, runs its rows one by one and records which were refused. */
  private async runIsolated(
    connection: SqlConnection,
    unit: StatementUnit,
    savepoints: boolean,
    failures: RecordFailure[],
  ): Promise<void> {
    const refused = await this.tryStatement(connection, unit, savepoints);
    if (refused === undefined) return;
    if (unit.rows.length === 1) {
      const row = unit.rows[0] as PreparedRow;
      failures.push({
        index: row.index,
        error: new ConnectorError("INVALID_RECORD", `${this.dialect.name} refused the record: ${messageOf(refused)}`, {
          cause: refused,
        }),
      });
      return;
    }
    const table = this.table as Table;
    for (const row of unit.rows) {
      await this.runIsolated(connection, buildStatement([row], table.quotedName, this.dialect), savepoints, failures);
    }
  }

  /** Undefined when the statement ran, the error when the database refused its data; throws anything else. */
  private async tryStatement(connection: SqlConnection, unit: StatementUnit, savepoint: boolean): Promise<unknown> {
    if (savepoint) await connection.execute("SAVEPOINT pulsar_connect_row");
    try {
      await connection.execute(unit.sql, unit.params);
    } catch (error) {
      if (this.dialect.classifyError(error) !== "record") throw error;
      if (savepoint) await connection.execute("ROLLBACK TO SAVEPOINT pulsar_connect_row");
      return error;
    }
    if (savepoint) await connection.execute("RELEASE SAVEPOINT pulsar_connect_row");
    return undefined;
  }

  private async storePositions(connection: SqlConnection, positions: readonly PulsarPosition[]): Promise<void> {
    if (positions.length === 0) return;
    const { dialect } = this;
    const params: unknown[] = [];
    const bind = (value: unknown) => {
      params.push(dialect.toParameter(value, undefined));
      return dialect.placeholder(params.length);
    };
    const tuples = positions.map(
      (position) =>
        `(${[this.connectorName, position.topic, position.ledgerId, position.entryId, position.batchIndex].map(bind).join(", ")})`,
    );
    const q = (name: string) => dialect.quoteIdentifier(name);
    const sql =
      `INSERT INTO ${POSITIONS_TABLE} (${q("connector_name")}, ${q("topic")}, ${q("ledger_id")}, ${q("entry_id")}, ${q("batch_index")}) VALUES ${tuples.join(", ")}` +
      dialect.upsertClause([q("connector_name"), q("topic")], [q("ledger_id"), q("entry_id"), q("batch_index")]);
    await connection.execute(sql, params);
  }

  private async storedPositions(): Promise<PulsarPosition[]> {
    const connection = await this.connect();
    try {
      return await this.readPositions(connection);
    } catch (error) {
      throw this.toWriteError(error, "could not read the stored positions");
    }
  }

  private async readPositions(connection: SqlConnection): Promise<PulsarPosition[]> {
    const q = (name: string) => this.dialect.quoteIdentifier(name);
    {
      const result = await connection.execute(
        `SELECT ${q("topic")}, ${q("ledger_id")}, ${q("entry_id")}, ${q("batch_index")} FROM ${POSITIONS_TABLE} WHERE ${q("connector_name")} = ${this.dialect.placeholder(1)} ORDER BY ${q("topic")}`,
        [this.connectorName],
      );
      return result.rows.map((row) => ({
        topic: String(row.topic),
        ledgerId: BigInt(row.ledger_id as string | number | bigint),
        entryId: BigInt(row.entry_id as string | number | bigint),
        batchIndex: Number(row.batch_index),
      }));
    }
  }

  private async close(): Promise<void> {
    this.closed = true;
    await this.dropConnection();
  }

  /** A ConnectorError for a failure of the whole write; drops the connection when it is the cause. */
  private toWriteError(failure: unknown, what: string): ConnectorError {
    if (failure instanceof ConnectorError) return failure;
    const error = failure instanceof CommitUncertain ? failure.cause : failure;
    const kind = this.dialect.classifyError(error);
    if (kind === "connection") {
      void this.dropConnection();
      return new ConnectorError(
        "CONNECTION_FAILED",
        `${what}: lost the ${this.dialect.name} connection: ${messageOf(error)}`,
        {
          cause: error,
          retryable: true,
        },
      );
    }
    return new ConnectorError("WRITE_FAILED", `${what}: ${messageOf(error)}`, { cause: error, retryable: true });
  }
}

/** How often a write is narrowed to what lies beyond positions other instances stored before it gives up. */
const MAX_FENCE_ROUNDS = 5;

/** Positions another instance of the connector stored, reaching records of the write under way. */
class AlreadyStored extends Error {
  readonly stored: ReadonlyMap<string, PulsarPosition>;

  constructor(stored: ReadonlyMap<string, PulsarPosition>) {
    super("another instance already stored some of these records");
    this.stored = stored;
  }
}

/** Whether the stored position of `position`'s topic is at or after it. */
function coveredBy(stored: ReadonlyMap<string, PulsarPosition>, position: PulsarPosition): boolean {
  const last = stored.get(position.topic);
  return last !== undefined && comparePositions(last, position) >= 0;
}

function formatPosition(position: PulsarPosition): string {
  return `${position.topic}@${position.ledgerId}:${position.entryId}:${position.batchIndex}`;
}

/** The connection was lost during COMMIT: the transaction may have been committed. */
class CommitUncertain extends Error {
  constructor(cause: unknown) {
    super(messageOf(cause), { cause });
  }
}

/** A statement refused because of its data, in a transaction that the database has now aborted. */
class RecordRefused extends Error {
  constructor(cause: unknown) {
    super(messageOf(cause), { cause });
  }
}

/** Records the database refused, found before committing a transaction that must not cover them. */
class RowsRefused extends Error {
  readonly first: RecordFailure;

  constructor(failures: readonly RecordFailure[]) {
    const first = failures.reduce((a, b) => (b.index < a.index ? b : a));
    super(first.error.message);
    this.first = first;
  }
}

/** Failures for the records `from` to `to` (exclusive) that were not written, for the runtime to write again. */
function notWritten(from: number, to: number, why: string): RecordFailure[] {
  const error = new ConnectorError("WRITE_FAILED", `not written yet: ${why}`, { retryable: true });
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => ({ index: from + i, error }));
}

/** The lowest position of each topic in a batch, by topic name (instances lock position rows in one order). */
function firstPositions(records: readonly SinkRecord[]): PulsarPosition[] {
  const byTopic = new Map<string, PulsarPosition>();
  for (const { position } of records) {
    const seen = byTopic.get(position.topic);
    if (!seen || comparePositions(position, seen) < 0) byTopic.set(position.topic, position);
  }
  return [...byTopic.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
}

/** The highest position of each topic in a batch. */
function lastPositions(records: readonly SinkRecord[]): PulsarPosition[] {
  const byTopic = new Map<string, PulsarPosition>();
  for (const { position } of records) {
    const seen = byTopic.get(position.topic);
    if (!seen || comparePositions(position, seen) > 0) byTopic.set(position.topic, position);
  }
  return [...byTopic.values()];
}

/** Orders two positions of one topic. */
function comparePositions(a: PulsarPosition, b: PulsarPosition): number {
  if (a.ledgerId !== b.ledgerId) return a.ledgerId < b.ledgerId ? -1 : 1;
  if (a.entryId !== b.entryId) return a.entryId < b.entryId ? -1 : 1;
  return a.batchIndex - b.batchIndex;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
