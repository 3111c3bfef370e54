import type { SinkRecord } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import { jdbcSinkConfigSchema } from "../config.ts";
import { jsonParameter, onConflictUpsertClause, type SqlDialect, type TableColumn } from "../dialect.ts";
import { prepareRows } from "./rows.ts";
import { planStatements } from "./statements.ts";
import { Table } from "./table.ts";

// Only the pure SQL-building parts of a dialect; statements are not run here (the connectors' integration tests
// run them against the real databases).
const dialect: SqlDialect = {
  name: "Test",
  urlExample: "test://",
  maxParameters: 10,
  failedStatementAbortsTransaction: false,
  positionsTableDdl: "",
  checkUrl: () => undefined,
  connect: () => Promise.reject(new Error("not used")),
  quoteIdentifier: (name) => `"${name}"`,
  placeholder: (position) => `$${position}`,
  describeTable: () => Promise.resolve([]),
  upsertClause: onConflictUpsertClause,
  toParameter: (value) => jsonParameter(value),
  classifyError: () => "other",
};

const column = (name: string, primaryKeyPosition = 0): TableColumn => ({
  name,
  type: "text",
  nullable: true,
  primaryKeyPosition,
});
const table = new Table({ name: "people" }, [column("id", 1), column("name"), column("City")], dialect);
const schema = jdbcSinkConfigSchema({ urlExample: "", checkUrl: () => undefined });

function plan(records: SinkRecord[], configs: Record<string, unknown> = {}, rowsPerStatement = 100, bulk = false) {
  const config = schema.parse({ jdbcUrl: "test://x", tableName: "people", ...configs });
  const { rows, problems } = prepareRows(records, {
    config,
    dialect,
    table,
    keyColumns: table.primaryKey(),
    nonKeyColumns: undefined,
  });
  return { units: planStatements(rows, table.quotedName, dialect, rowsPerStatement, bulk), problems };
}

describe("statement planning", () => {
  it("for a bulk write, groups INSERT and UPSERT rows past the statement limits, still split by shape and repeated upsert key", () => {
    const inserts = makeSinkRecords<Record<string, unknown>>([
      ...Array.from({ length: 7 }, (_, i) => ({ value: { id: i, city: "Oslo" } })),
      { value: { id: 7, name: "other shape" } },
    ]);
    expect(plan(inserts, {}, 3, true).units.map((unit) => unit.rows.length)).toEqual([7, 1]);
    expect(plan(inserts, {}, 3).units.map((unit) => unit.rows.length)).toEqual([3, 3, 1, 1]);
    const upserts = makeSinkRecords([1, 2, 3, 4, 2, 5, 6].map((id) => ({ value: { id, city: "Oslo" } })));
    expect(plan(upserts, { insertMode: "UPSERT" }, 2, true).units.map((unit) => unit.rows.length)).toEqual([4, 3]);
    const updates = makeSinkRecords([1, 2].map((id) => ({ value: { id, city: "Oslo" } })));
    expect(plan(updates, { insertMode: "UPDATE" }, 100, true).units.map((unit) => unit.rows.length)).toEqual([1, 1]);
  });

  it("puts consecutive rows of one shape into one multi-row INSERT, within the parameter limit", () => {
    const records = makeSinkRecords(Array.from({ length: 7 }, (_, i) => ({ value: { id: i, city: "Oslo" } })));
    const { units } = plan(records);
    // 2 parameters per row and at most 10 per statement: 5 + 2 rows.
    expect(units.map((unit) => unit.rows.length)).toEqual([5, 2]);
    expect(units[0]?.sql).toBe(
      'INSERT INTO "people" ("id", "City") VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8), ($9, $10)',
    );
    expect(units[1]?.params).toEqual([5, "Oslo", 6, "Oslo"]);
  });

  it("keeps record order across statement kinds and splits an UPSERT that touches a key twice", () => {
    const records = makeSinkRecords([
      { value: { id: 1, name: "a" } },
      { value: { id: 1, name: "b" } },
      { value: { id: 1 }, properties: { ACTION: "DELETE" } },
      { value: { id: 2 }, properties: { ACTION: "DELETE" } },
      { value: { id: 3, name: "c" }, properties: { ACTION: "UPDATE" } },
    ]);
    const { units } = plan(records, { insertMode: "UPSERT" });
    expect(units.map((unit) => unit.sql)).toEqual([
      'INSERT INTO "people" ("id", "name") VALUES ($1, $2) ON CONFLICT ("id") DO UPDATE SET "name" = excluded."name"',
      'INSERT INTO "people" ("id", "name") VALUES ($1, $2) ON CONFLICT ("id") DO UPDATE SET "name" = excluded."name"',
      'DELETE FROM "people" WHERE "id" IN ($1, $2)',
      'UPDATE "people" SET "name" = $1 WHERE "id" = $2',
    ]);
    expect(units[3]?.params).toEqual(["c", 3]);
  });

  it("turns unusable records into problems with their batch index", () => {
    const records = makeSinkRecords<unknown>([
      { value: { id: 1, colour: "red" } },
      { value: { name: "no key" }, properties: { ACTION: "UPDATE" } },
      { value: null },
      { value: { id: 4, nested: { a: 1 } } },
      { value: 42 },
    ]);
    const { problems, units } = plan(records);
    expect(problems.map((problem) => [problem.index, problem.unknownField])).toEqual([
      [0, true],
      [1, false],
      [2, false],
      [3, true],
      [4, false],
    ]);
    expect(units).toEqual([]);
  });

  it("writes nested values as JSON text and takes key fields from the message key", () => {
    const records = makeSinkRecords([
      { value: { name: { first: "Ada" } }, key: "7", properties: { ACTION: "UPSERT" } },
      { value: null, key: '{"id": 9}' },
    ]);
    const { units, problems } = plan(records, { nullValueAction: "DELETE" });
    expect(problems).toEqual([]);
    expect(units[0]?.params).toEqual(["7", '{"first":"Ada"}']);
    expect(units[1]?.sql).toBe('DELETE FROM "people" WHERE "id" IN ($1)');
    expect(units[1]?.params).toEqual([9]);
  });
});
