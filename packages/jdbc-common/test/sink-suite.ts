// Behaviour every SQL sink must show against its real database. Each connector's integration test calls
// describeJdbcSink with its definition and a way to run SQL on the database directly.
import { randomUUID } from "node:crypto";
import {
  ConnectorError,
  configFieldDefinitions,
  loadConfig,
  type ProcessingGuarantee,
  parseConfig,
  REDACTED,
  redactConfig,
  type SinkDefinition,
  type SinkInstance,
  type SinkRecord,
} from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords, type SinkRecordInit } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import type { JdbcSinkConfigSchema } from "../src/index.ts";

/** SQL run on the database directly, to set tables up and to look at what the sink wrote. */
export interface AdminConnection {
  exec(sql: string): Promise<void>;
  rows(sql: string): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

/** What the suite needs to know about one database. */
export interface JdbcSuiteTarget {
  label: string;
  definition: SinkDefinition<JdbcSinkConfigSchema>;
  /** The URL the tests use, plus credentials when they are not in it. */
  jdbcUrl: string;
  userName?: string;
  password?: string;
  /** Other spellings of the same database that must be accepted (upstream jdbc: forms, native URLs). */
  equivalentUrls: string[];
  /** A URL of another database kind, which the sink must refuse at validation. */
  foreignUrl: string;
  /**
   * Whether two connections of one process can hold write transactions at the same moment. Not SQLite: one writer
   * at a time per file, and its lock wait blocks the thread.
   */
  concurrentWriters: boolean;
  /** A URL where no database answers (or cannot be opened). */
  unreachableUrl: string;
  admin(): Promise<AdminConnection>;
  /** DDL of a table with columns id (integer primary key), name (text), qty (integer, type-checked), active (boolean), note (binary). */
  createTable(table: string): string;
  /** Statements making inserts into the positions table fail for one connector name. */
  failPositionsFor(trigger: string, connectorName: string): string[];
  dropTrigger(trigger: string): string;
  /**
   * Databases with statement-level triggers: SQL that makes each INSERT statement on `table` note its transaction
   * and row count in `log` (columns seq, tx, n), and SQL that drops it again. Lets the suite see statements and
   * transactions, not only the rows they leave.
   */
  statementLog?: { install(table: string, log: string): string[]; uninstall(table: string, log: string): string[] };
  /**
   * For network databases: config fields (jdbcUrl, userName...) whose connections can be found by `marker`, and a
   * way to cut those connections on the server.
   */
  dropConnections?: {
    configFor(admin: AdminConnection, marker: string): Promise<Record<string, unknown>>;
    drop(admin: AdminConnection, marker: string): Promise<void>;
    release?(admin: AdminConnection, marker: string): Promise<void>;
  };
}

type Row = { id: number; name: string | null; qty: number | null };

export function describeJdbcSink(target: JdbcSuiteTarget): void {
  const { definition } = target;
  let admin: AdminConnection | undefined;
  const instances: SinkInstance[] = [];

  async function db(): Promise<AdminConnection> {
    admin ??= await target.admin();
    return admin;
  }

  const tables: string[] = [];
  const statementLogs: Array<{ table: string; log: string }> = [];

  async function freshTable(): Promise<string> {
    const table = `pc_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await (await db()).exec(target.createTable(table));
    tables.push(table);
    return table;
  }

  /** The INSERT statements run on `table` from now on, as rows per statement and transaction (when observable). */
  async function watchStatements(
    table: string,
  ): Promise<(() => Promise<Array<{ tx: string; n: number }>>) | undefined> {
    if (target.statementLog === undefined) return undefined;
    const log = `${table}_stmts`;
    for (const sql of target.statementLog.install(table, log)) await (await db()).exec(sql);
    statementLogs.push({ table, log });
    return async () =>
      (await (await db()).rows(`SELECT tx, n FROM ${log} ORDER BY seq`)).map((row) => ({
        tx: String(row.tx),
        n: Number(row.n),
      }));
  }

  async function open(
    raw: Record<string, unknown>,
    name = `sink-${randomUUID().slice(0, 8)}`,
    processingGuarantee?: ProcessingGuarantee,
  ): Promise<SinkInstance> {
    const config = loadConfig(definition.config, {
      jdbcUrl: target.jdbcUrl,
      userName: target.userName,
      password: target.password,
      ...raw,
    });
    const { context } = createSinkContext({ name });
    const sink = await definition.open(config, processingGuarantee ? { ...context, processingGuarantee } : context);
    instances.push(sink);
    return sink;
  }

  async function tableRows(table: string): Promise<Row[]> {
    const rows = await (await db()).rows(`SELECT id, name, qty FROM ${table} ORDER BY id`);
    return rows.map((row) => ({
      id: Number(row.id),
      name: row.name === null ? null : String(row.name),
      qty: row.qty === null ? null : Number(row.qty),
    }));
  }

  function records(inits: Array<SinkRecordInit<unknown>>, firstEntryId = 0n): SinkRecord[] {
    return makeSinkRecords(inits, { ledgerId: 7n, firstEntryId });
  }

  function failedIndexes(outcome: Awaited<ReturnType<SinkInstance["write"]>>): number[] {
    return outcome ? outcome.failed.map((failure) => failure.index) : [];
  }

  afterAll(async () => {
    for (const sink of instances) await sink.close();
    if (admin !== undefined) {
      for (const { table, log } of statementLogs) {
        for (const sql of target.statementLog?.uninstall(table, log) ?? []) await admin.exec(sql);
      }
      for (const table of tables) await admin.exec(`DROP TABLE IF EXISTS ${table}`);
    }
    await admin?.close();
  });

  describe(`${target.label} sink`, () => {
    it("INSERT writes every record as a row, one multi-row statement per run of records with the same fields", async () => {
      const table = await freshTable();
      const statements = await watchStatements(table);
      const sink = await open({ tableName: table });
      const outcome = await sink.write(
        records([
          { value: { id: 1, name: "ada", qty: 3 } },
          { value: { id: 2, name: "bob", qty: 5 } },
          { value: { id: 3, name: "cy" } },
        ]),
      );
      expect(failedIndexes(outcome)).toEqual([]);
      // Records 1 and 2 share their fields; record 3 has no qty and goes in a statement of its own.
      if (statements) expect((await statements()).map((statement) => statement.n)).toEqual([2, 1]);
      expect(await tableRows(table)).toEqual([
        { id: 1, name: "ada", qty: 3 },
        { id: 2, name: "bob", qty: 5 },
        { id: 3, name: "cy", qty: null },
      ]);
    });

    it("UPSERT inserts new keys and updates existing ones, even twice in one batch", async () => {
      const table = await freshTable();
      await (await db()).exec(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'old', 1)`);
      const sink = await open({ tableName: table, insertMode: "UPSERT", key: "id", nonKey: "name,qty" });
      const outcome = await sink.write(
        records([
          { value: { id: 1, name: "new", qty: 10 } },
          { value: { id: 2, name: "two", qty: 2 } },
          { value: { id: 2, name: "two again", qty: 22 } },
        ]),
      );
      expect(failedIndexes(outcome)).toEqual([]);
      expect(await tableRows(table)).toEqual([
        { id: 1, name: "new", qty: 10 },
        { id: 2, name: "two again", qty: 22 },
      ]);
    });

    it("UPDATE changes rows by key (the primary key when key is not set) and reports records without a key", async () => {
      const table = await freshTable();
      await (await db()).exec(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'a', 1), (2, 'b', 2)`);
      const sink = await open({ tableName: table, insertMode: "UPDATE" });
      const outcome = await sink.write(
        records([
          { value: { id: 2, qty: 20 } },
          { value: { name: "no key" } },
          { value: { id: 99, qty: 1 } },
          { value: { id: 1, name: "A" } },
        ]),
      );
      expect(failedIndexes(outcome)).toEqual([1]);
      const error = outcome ? outcome.failed[0]?.error : undefined;
      expect(error).toBeInstanceOf(ConnectorError);
      expect(error).toMatchObject({ code: "INVALID_RECORD", retryable: false });
      expect(error?.message).toMatch(/missing key field/);
      expect(await tableRows(table)).toEqual([
        { id: 1, name: "A", qty: 1 },
        { id: 2, name: "b", qty: 20 },
      ]);
    });

    it("a null value deletes by key with nullValueAction DELETE (message key plain or JSON) and fails with FAIL", async () => {
      const table = await freshTable();
      await (await db()).exec(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`);
      const deleting = await open({ tableName: table, nullValueAction: "DELETE" });
      const outcome = await deleting.write(
        records([{ value: null, key: "1" }, { value: new Uint8Array(0), key: '{"id": 3}' }, { value: null }]),
      );
      expect(failedIndexes(outcome)).toEqual([2]);
      expect(await tableRows(table)).toEqual([{ id: 2, name: "b", qty: 2 }]);

      const failing = await open({ tableName: table });
      const refused = await failing.write(records([{ value: null, key: "2" }]));
      expect(failedIndexes(refused)).toEqual([0]);
      expect(refused ? refused.failed[0]?.error.message : "").toMatch(/nullValueAction is FAIL/);
      expect(await tableRows(table)).toEqual([{ id: 2, name: "b", qty: 2 }]);
    });

    it("the ACTION property overrides insertMode per record (DELETE, UPSERT, UPDATE)", async () => {
      const table = await freshTable();
      await (await db()).exec(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'a', 1), (2, 'b', 2)`);
      const sink = await open({ tableName: table });
      const outcome = await sink.write(
        records([
          { value: { id: 1 }, properties: { ACTION: "DELETE" } },
          { value: { id: 2, name: "B", qty: 20 }, properties: { ACTION: "upsert" } },
          { value: { id: 3, name: "c", qty: 3 } },
          { value: { id: 3, qty: 30 }, properties: { ACTION: "UPDATE" } },
          { value: { id: 4, name: "d" }, properties: { ACTION: "MERGE" } },
          { value: { id: 5, name: "e", qty: 5 }, properties: { ACTION: "INSERT" } },
        ]),
      );
      expect(failedIndexes(outcome)).toEqual([4]);
      expect(await tableRows(table)).toEqual([
        { id: 2, name: "B", qty: 20 },
        { id: 3, name: "c", qty: 30 },
        { id: 5, name: "e", qty: 5 },
      ]);
    });

    it("a record with an unknown field or a value the database refuses fails alone; the rest is written", async () => {
      const table = await freshTable();
      const sink = await open({ tableName: table });
      const outcome = await sink.write(
        records([
          { value: { id: 1, name: "ok", qty: 1 } },
          { value: { id: 2, name: "unknown field", colour: "red" } },
          { value: { id: 3, name: "ok", qty: 3 } },
          { value: { id: 4, name: "bad qty", qty: "not a number" } },
          { value: { id: 5, name: "ok", qty: 5 } },
          { value: "plain text" },
          { value: { id: 1, name: "duplicate key", qty: 9 } },
        ]),
      );
      expect(failedIndexes(outcome)).toEqual([1, 3, 5, 6]);
      for (const failure of outcome ? outcome.failed : []) {
        expect(failure.error).toBeInstanceOf(ConnectorError);
        expect((failure.error as ConnectorError).code).toBe("INVALID_RECORD");
        expect((failure.error as ConnectorError).retryable).toBe(false);
      }
      expect(outcome ? outcome.failed[0]?.error.message : "").toMatch(/field "colour" has no column/);
      expect(await tableRows(table)).toEqual([
        { id: 1, name: "ok", qty: 1 },
        { id: 3, name: "ok", qty: 3 },
        { id: 5, name: "ok", qty: 5 },
      ]);
    });

    it("a run of inserts larger than one bulk statement, refused at its last row, is written once without that row", async () => {
      const table = await freshTable();
      const sink = await open({ tableName: table });
      // About 5 MB of rows: more than one of MariaDB's bulk statements, which a savepoint then undoes together.
      const count = 45_000;
      const inits: Array<SinkRecordInit<unknown>> = Array.from({ length: count }, (_, i) => ({
        value: { id: i + 1, name: `${"x".repeat(90)}${i}`, qty: i },
      }));
      inits.push({ value: { id: count + 1, name: "bad qty", qty: "not a number" } });
      expect(failedIndexes(await sink.write(records(inits)))).toEqual([count]);
      const [row] = await (await db()).rows(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MAX(id) AS top, SUM(qty) AS total FROM ${table}`,
      );
      expect([Number(row?.n), Number(row?.d), Number(row?.top), Number(row?.total)]).toEqual([
        count,
        count,
        count,
        (count * (count - 1)) / 2,
      ]);
    });

    it("under EFFECTIVELY_ONCE commits only up to a refused record, so no stored position covers it", async () => {
      const table = await freshTable();
      const sink = await open({ tableName: table }, undefined, "EFFECTIVELY_ONCE");
      const batch = records([
        { value: { id: 1, name: "ok", qty: 1 } },
        { value: { id: 2, name: "bad qty", qty: "not a number" } },
        { value: { id: 3, name: "ok", qty: 3 } },
        { value: { id: 4, name: "unknown field", colour: "red" } },
        { value: { id: 5, name: "ok", qty: 5 } },
      ]);
      const retryable = (outcome: Awaited<ReturnType<SinkInstance["write"]>>) =>
        outcome ? outcome.failed.map((failure) => [failure.index, (failure.error as ConnectorError).retryable]) : [];
      // The refused record, then the later ones as not written yet: the runtime dead-letters it, then writes them.
      expect(retryable(await sink.write(batch))).toEqual([
        [1, false],
        [2, true],
        [3, true],
        [4, true],
      ]);
      expect((await tableRows(table)).map((row) => row.id)).toEqual([1]);
      expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(0n);
      expect(retryable(await sink.write(batch.slice(2)))).toEqual([
        [1, false],
        [2, true],
      ]);
      expect(failedIndexes(await sink.write(batch.slice(4)))).toEqual([]);
      expect((await tableRows(table)).map((row) => row.id)).toEqual([1, 3, 5]);
      expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(4n);
    });

    // Two instances of one connector holding the same records: a Failover switch, where the instance that lost a
    // partition finishes a write the new owner already made, or the new owner loaded positions before that commit.
    it("under EFFECTIVELY_ONCE leaves out what another instance of the connector already stored", async () => {
      const table = await freshTable();
      const name = `fence-${randomUUID().slice(0, 8)}`;
      const oldOwner = await open({ tableName: table }, name, "EFFECTIVELY_ONCE");
      const newOwner = await open({ tableName: table }, name, "EFFECTIVELY_ONCE");
      const range = (from: number, count: number) =>
        records(
          Array.from({ length: count }, (_, i) => ({ value: { id: from + i, name: `row ${from + i}` } })),
          BigInt(from),
        );
      const ids = async () => (await tableRows(table)).map((row) => row.id);
      expect(failedIndexes(await newOwner.write(range(0, 10)))).toEqual([]);
      expect(failedIndexes(await oldOwner.write(range(0, 10)))).toEqual([]);
      expect(failedIndexes(await oldOwner.write(range(5, 10)))).toEqual([]);
      expect(await ids()).toEqual(Array.from({ length: 15 }, (_, i) => i));
      // The stored position never moves back: a stale write of 0..9 now writes nothing.
      expect(failedIndexes(await newOwner.write(range(0, 10)))).toEqual([]);
      expect((await newOwner.storedPositions?.())?.[0]?.entryId).toBe(14n);

      if (!target.concurrentWriters) return;
      // Both write the same records at the same moment, the very first time for their topic.
      const topic = "persistent://public/default/fence-partition-3";
      const same = makeSinkRecords(
        Array.from({ length: 200 }, (_, i) => ({ value: { id: 100 + i, name: "same" }, topicName: topic })),
        { ledgerId: 9n },
      );
      const outcomes = await Promise.all([oldOwner.write(same), newOwner.write(same)]);
      expect(outcomes.map(failedIndexes)).toEqual([[], []]);
      expect((await ids()).filter((id) => id >= 100)).toEqual(Array.from({ length: 200 }, (_, i) => 100 + i));
    });

    it("stores awkward text exactly as given", async () => {
      const table = await freshTable();
      const sink = await open({ tableName: table });
      const names = [
        'quote " and backslash \\',
        "NULL",
        "{a,b}",
        "it's",
        "emoji \u{1F600} and ünïcödé",
        "",
        "line\nbreak",
      ];
      const outcome = await sink.write(records(names.map((name, i) => ({ value: { id: i + 1, name } }))));
      expect(failedIndexes(outcome)).toEqual([]);
      expect((await tableRows(table)).map((row) => row.name)).toEqual(names);
    });

    it("excludeNonDeclaredFields writes only key and nonKey columns", async () => {
      const table = await freshTable();
      const sink = await open({ tableName: table, key: "id", nonKey: "name", excludeNonDeclaredFields: true });
      const outcome = await sink.write(records([{ value: { id: 1, name: "x", qty: 5, colour: "red" } }]));
      expect(failedIndexes(outcome)).toEqual([]);
      expect(await tableRows(table)).toEqual([{ id: 1, name: "x", qty: null }]);
    });

    it("maps Avro-decoded values (booleans, bigints, buffers) and splits statements by batchSize", async () => {
      const table = await freshTable();
      const statements = await watchStatements(table);
      const sink = await open({ tableName: table, batchSize: 2 });
      const batch = makeSinkRecords(
        Array.from({ length: 5 }, () => ({ value: {} as Record<string, unknown> })),
        { ledgerId: 3n },
      );
      batch.forEach((record, i) => {
        // As the runtime hands over Avro records: decoded objects with longs as bigint and bytes as buffers.
        record.value = {
          id: BigInt(i + 1),
          name: `n${i}`,
          qty: i,
          active: i % 2 === 0,
          note: Buffer.from(`note ${i}`),
        };
        record.schema = { type: "AVRO" };
      });
      expect(failedIndexes(await sink.write(batch))).toEqual([]);
      expect((await tableRows(table)).map((row) => row.id)).toEqual([1, 2, 3, 4, 5]);
      if (statements) {
        const seen = await statements();
        expect(seen.map((statement) => statement.n)).toEqual([2, 2, 1]);
        expect(new Set(seen.map((statement) => statement.tx)).size, "one transaction").toBe(1);
      }
      const active = await (await db()).rows(
        `SELECT id FROM ${table} WHERE active = ${target.label === "PostgreSQL" ? "true" : "1"} ORDER BY id`,
      );
      expect(active.map((row) => Number(row.id))).toEqual([1, 3, 5]);
    });

    it("stores the last position per topic in the same transaction as the rows", async () => {
      const table = await freshTable();
      const name = `fail-${randomUUID().slice(0, 8)}`;
      const sink = await open({ tableName: table }, name);
      const topicA = "persistent://public/default/orders-partition-0";
      const topicB = "persistent://public/default/orders-partition-1";
      const batch = [
        ...records(
          [
            { value: { id: 1 }, topicName: topicA },
            { value: { id: 2 }, topicName: topicA },
          ],
          10n,
        ),
        ...records([{ value: { id: 3 }, topicName: topicB }], 40n),
      ];
      expect(failedIndexes(await sink.write(batch))).toEqual([]);
      expect(await sink.storedPositions?.()).toEqual([
        { topic: topicA, ledgerId: 7n, entryId: 11n, batchIndex: -1 },
        { topic: topicB, ledgerId: 7n, entryId: 40n, batchIndex: -1 },
      ]);

      // Make the position write fail: the rows of that transaction must not stay either.
      const trigger = `pc_fail_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
      const connection = await db();
      for (const statement of target.failPositionsFor(trigger, `public/default/${name}`))
        await connection.exec(statement);
      try {
        const error = await sink.write(records([{ value: { id: 4 }, topicName: topicA }], 12n)).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(ConnectorError);
        expect((error as ConnectorError).retryable).toBe(true);
      } finally {
        await connection.exec(target.dropTrigger(trigger));
      }
      expect((await tableRows(table)).map((row) => row.id)).toEqual([1, 2, 3]);
      expect((await sink.storedPositions?.())?.[0]).toEqual({
        topic: topicA,
        ledgerId: 7n,
        entryId: 11n,
        batchIndex: -1,
      });

      // After the cause is gone the same write goes through, and a second instance sees the positions.
      expect(failedIndexes(await sink.write(records([{ value: { id: 4 }, topicName: topicA }], 12n)))).toEqual([]);
      const restarted = await open({ tableName: table }, name);
      expect((await restarted.storedPositions?.())?.[0]).toEqual({
        topic: topicA,
        ledgerId: 7n,
        entryId: 12n,
        batchIndex: -1,
      });
    });

    it("maxQueueSize splits a large write into several transactions, each with its positions", async () => {
      const table = await freshTable();
      const statements = await watchStatements(table);
      const sink = await open({ tableName: table, maxQueueSize: 3, batchSize: 2 });
      const batch = records(Array.from({ length: 8 }, (_, i) => ({ value: { id: i + 1, qty: i } })));
      batch[6] = { ...(batch[6] as SinkRecord), value: { id: 7, qty: "x" } };
      expect(failedIndexes(await sink.write(batch))).toEqual([6]);
      expect((await tableRows(table)).map((row) => row.id)).toEqual([1, 2, 3, 4, 5, 6, 8]);
      if (statements) {
        // Committed statements only: at most batchSize rows each, at most maxQueueSize rows per transaction.
        const seen = await statements();
        expect(seen.every((statement) => statement.n <= 2)).toBe(true);
        const perTransaction = new Map<string, number>();
        for (const { tx, n } of seen) perTransaction.set(tx, (perTransaction.get(tx) ?? 0) + n);
        expect([...perTransaction.values()].every((n) => n <= 3)).toBe(true);
        expect(perTransaction.size, "several transactions").toBeGreaterThanOrEqual(3);
        expect(seen.reduce((sum, statement) => sum + statement.n, 0)).toBe(7);
      }
      expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(7n);
    });

    if (target.dropConnections !== undefined) {
      const { configFor, drop, release } = target.dropConnections;
      it("fails a write with a retryable CONNECTION_FAILED when the connection drops, and reconnects", async () => {
        const table = await freshTable();
        const marker = `pc_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
        const sink = await open({ tableName: table, ...(await configFor(await db(), marker)) });
        expect(failedIndexes(await sink.write(records([{ value: { id: 1 } }])))).toEqual([]);
        await drop(await db(), marker);
        const error = await sink.write(records([{ value: { id: 2 } }], 1n)).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(ConnectorError);
        expect(error).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
        // The runtime retries the same batch: the sink opens a new connection.
        expect(failedIndexes(await sink.write(records([{ value: { id: 2 } }], 1n)))).toEqual([]);
        expect((await tableRows(table)).map((row) => row.id)).toEqual([1, 2]);
        expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(1n);
        await sink.close();
        await release?.(await db(), marker);
      });
    }

    it("accepts the upstream jdbc: URL forms and the driver's own", async () => {
      const table = await freshTable();
      for (const [index, jdbcUrl] of target.equivalentUrls.entries()) {
        const sink = await open({ tableName: table, jdbcUrl });
        expect(
          failedIndexes(await sink.write(records([{ value: { id: index + 1, name: jdbcUrl.slice(0, 20) } }]))),
        ).toEqual([]);
      }
      expect((await tableRows(table)).length).toBe(target.equivalentUrls.length);
    });

    it("refuses invalid config with field-level issues", async () => {
      const result = parseConfig(definition.config, {
        jdbcUrl: target.foreignUrl,
        insertMode: "MERGE",
        batchSize: 0,
        timeoutMs: 0,
      });
      expect(result.ok).toBe(false);
      const paths = result.ok ? [] : result.issues.map((issue) => issue.path);
      expect(paths).toEqual(expect.arrayContaining(["configs.tableName", "configs.insertMode"]));
      const urlOnly = parseConfig(definition.config, { jdbcUrl: target.foreignUrl, tableName: "t" });
      expect(urlOnly.ok ? [] : urlOnly.issues.map((issue) => issue.path)).toEqual(["configs.jdbcUrl"]);
      const both = parseConfig(definition.config, {
        jdbcUrl: target.jdbcUrl,
        tableName: "t",
        batchSize: 0,
        timeoutMs: 0,
      });
      expect(both.ok ? [] : both.issues).toEqual([
        { path: "configs.batchSize", message: "timeoutMs and batchSize cannot both be <= 0" },
      ]);

      const missingTable = await open({ tableName: `pc_missing_${randomUUID().slice(0, 8)}` }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((missingTable as ConnectorError).code).toBe("NOT_FOUND");
      const table = await freshTable();
      const badKey = await open({ tableName: table, key: "nope", insertMode: "UPSERT" }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((badKey as ConnectorError).code).toBe("INVALID_CONFIG");
      expect((badKey as ConnectorError).issues.map((issue) => issue.path)).toEqual(["configs.key"]);
    });

    it("keeps the password out of shown config and out of connection errors", async () => {
      const secret = `s3cret-${randomUUID().slice(0, 6)}`;
      const config = loadConfig(definition.config, {
        jdbcUrl: target.unreachableUrl,
        tableName: "t",
        userName: "someone",
        password: secret,
      });
      expect((redactConfig(definition.config, config) as { password: string }).password).toBe(REDACTED);
      const passwordField = configFieldDefinitions(definition.config).find((field) => field.fieldName === "password");
      expect(passwordField?.attributes.sensitive).toBe("true");
      const handle = createSinkContext({ name: "redaction" });
      const error = await definition.open(config, handle.context).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe("CONNECTION_FAILED");
      expect((error as ConnectorError).retryable).toBe(true);
      expect(String((error as Error).message)).not.toContain(secret);
      expect(handle.logger.text()).not.toContain(secret);
    });

    it("writes 100k rows through write() in batches of batchSize", async () => {
      const table = await freshTable();
      const sink = await open({ tableName: table });
      const total = 100_000;
      const batchSize = 200;
      const batches = Array.from({ length: total / batchSize }, (_, batch) =>
        makeSinkRecords(
          Array.from({ length: batchSize }, (_, i) => {
            const id = batch * batchSize + i + 1;
            return { value: { id, name: `name ${id}`, qty: i, active: i % 2 === 0 } };
          }),
          { ledgerId: 9n, firstEntryId: BigInt(batch * batchSize) },
        ),
      );
      const started = performance.now();
      for (const batch of batches) {
        const outcome = await sink.write(batch);
        if (outcome) expect(outcome.failed).toEqual([]);
      }
      const seconds = (performance.now() - started) / 1000;
      const [count] = await (await db()).rows(`SELECT COUNT(*) AS n FROM ${table}`);
      expect(Number(count?.n)).toBe(total);
      console.info(`${target.label}: ${total} rows in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} rows/s`);
    });
  });
}
