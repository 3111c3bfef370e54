import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import { jdbcSinkConfigSchema } from "../config.ts";
import { jsonParameter, onConflictUpsertClause, type SqlDialect, type TableColumn } from "../dialect.ts";
import { type PreparedRow, prepareRows } from "./rows.ts";
import { Table } from "./table.ts";

// Rows of records of one field layout come from a shape worked out once per batch; these cases mix layouts,
// actions and refusals in one batch so that each row is checked against what the record alone means.
const dialect: SqlDialect = {
  name: "Test",
  urlExample: "test://",
  maxParameters: 100,
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
const column = (name: string, type: string, primaryKeyPosition = 0): TableColumn => ({
  name,
  type,
  nullable: true,
  primaryKeyPosition,
});
const table = new Table(
  { name: "people" },
  [column("id", "bigint", 1), column("name", "text"), column("City", "text"), column("tags", "jsonb")],
  dialect,
);
const schema = jdbcSinkConfigSchema({ urlExample: "", checkUrl: () => undefined });

function prepare(records: ReturnType<typeof makeSinkRecords<unknown>>, configs: Record<string, unknown> = {}) {
  const config = schema.parse({ jdbcUrl: "test://x", tableName: "people", ...configs });
  const nonKey = typeof configs.nonKey === "string" ? [table.column(configs.nonKey) as TableColumn] : undefined;
  return prepareRows(records, { config, dialect, table, keyColumns: table.primaryKey(), nonKeyColumns: nonKey }, 10);
}

const shape = (row: PreparedRow | undefined) =>
  row && {
    index: row.index,
    mutation: row.mutation,
    columns: row.columns,
    values: row.values,
    types: row.types,
    updates: row.updates,
    keyValues: row.keyValues,
  };

describe("preparing rows", () => {
  it("maps each record by its own fields, whatever the layouts before it in the batch", () => {
    const { rows, problems } = prepare(
      makeSinkRecords<unknown>([
        { value: { id: 1, name: "Ada", city: "Oslo" } },
        { value: { city: "Bergen", id: 2, name: "Bob" } },
        { value: { id: 3, name: "Cy", city: "Rome" } },
        { value: { id: 4, name: null, tags: ["x", "ü"] } },
        { value: { id: 5, name: "a", NAME: "b" } },
        { value: { id: 6, name: "Dee", city: "Oslo" } },
        { value: { id: 7, name: undefined } },
      ]),
    );
    expect(problems).toEqual([]);
    expect(rows.map(shape)).toEqual([
      {
        index: 10,
        mutation: "INSERT",
        columns: ['"id"', '"name"', '"City"'],
        values: [1, "Ada", "Oslo"],
        types: ["bigint", "text", "text"],
        updates: [],
        keyValues: [],
      },
      {
        index: 11,
        mutation: "INSERT",
        columns: ['"id"', '"name"', '"City"'],
        values: [2, "Bob", "Bergen"],
        types: ["bigint", "text", "text"],
        updates: [],
        keyValues: [],
      },
      {
        index: 12,
        mutation: "INSERT",
        columns: ['"id"', '"name"', '"City"'],
        values: [3, "Cy", "Rome"],
        types: ["bigint", "text", "text"],
        updates: [],
        keyValues: [],
      },
      {
        index: 13,
        mutation: "INSERT",
        columns: ['"id"', '"name"', '"tags"'],
        values: [4, null, '["x","ü"]'],
        types: ["bigint", "text", "jsonb"],
        updates: [],
        keyValues: [],
      },
      // Two fields for one column (its name in another case): the later one, as everywhere else.
      {
        index: 14,
        mutation: "INSERT",
        columns: ['"id"', '"name"'],
        values: [5, "b"],
        types: ["bigint", "text"],
        updates: [],
        keyValues: [],
      },
      {
        index: 15,
        mutation: "INSERT",
        columns: ['"id"', '"name"', '"City"'],
        values: [6, "Dee", "Oslo"],
        types: ["bigint", "text", "text"],
        updates: [],
        keyValues: [],
      },
      {
        index: 16,
        mutation: "INSERT",
        columns: ['"id"', '"name"'],
        values: [7, null],
        types: ["bigint", "text"],
        updates: [],
        keyValues: [],
      },
    ]);
    expect(rows[0]?.signature).toBe(rows[2]?.signature);
    expect(rows[0]?.signature).not.toBe(rows[3]?.signature);
  });

  it("tells layouts apart by their field names, even a name that joins two others", () => {
    const { rows, problems } = prepare(
      makeSinkRecords<unknown>([
        { value: { id: 1, name: "Ada" } },
        { value: { id: 2, city: "Oslo" } },
        { value: { "id\u0000name": 42 } },
      ]),
    );
    expect(rows.map((row) => [row.index, row.values])).toEqual([
      [10, [1, "Ada"]],
      [11, [2, "Oslo"]],
    ]);
    expect(problems.map((problem) => problem.index)).toEqual([12]);
  });

  it("under UPSERT takes keys from the value, else from the message key, and refuses a record without one", () => {
    const { rows, problems } = prepare(
      makeSinkRecords<unknown>([
        { value: { id: 1, name: "Ada" } },
        { value: { name: "Bob" }, key: "2" },
        { value: { id: null, name: "Cy" }, key: "3" },
        { value: { id: 4, name: "Dee" }, properties: { ACTION: "DELETE" } },
        { value: { id: 5, name: "Eve" } },
        { value: { name: "Fay" } },
        { value: { id: 6, colour: "red" } },
        { value: '{"id": 7, "name": "Gus"}' },
      ]),
      { insertMode: "UPSERT" },
    );
    expect(rows.map((row) => [row.index, row.mutation, row.values, row.keyValues, row.updates])).toEqual([
      [10, "UPSERT", [1, "Ada"], [1], ['"name"']],
      [11, "UPSERT", ["2", "Bob"], ["2"], ['"name"']],
      [13, "DELETE", [], [4], []],
      [14, "UPSERT", [5, "Eve"], [5], ['"name"']],
      [17, "UPSERT", [7, "Gus"], [7], ['"name"']],
    ]);
    expect(problems.map((problem) => [problem.index, problem.unknownField, problem.message])).toEqual([
      [12, false, "missing key field(s) id for UPSERT"],
      [15, false, "missing key field(s) id for UPSERT"],
      [16, true, 'field "colour" has no column in table people'],
    ]);
  });

  it("leaves out undeclared fields and keys from the update list when nonKey is set", () => {
    const { rows, problems } = prepare(
      makeSinkRecords<unknown>([
        { value: { id: 1, name: "Ada", City: "Oslo", colour: "red" } },
        { value: { id: 2, name: "Bob", City: "Rome", colour: "blue" } },
      ]),
      { insertMode: "UPSERT", excludeNonDeclaredFields: true, nonKey: "name" },
    );
    expect(problems).toEqual([]);
    expect(rows.map((row) => [row.columns, row.values, row.updates])).toEqual([
      [['"id"', '"name"'], [1, "Ada"], ['"name"']],
      [['"id"', '"name"'], [2, "Bob"], ['"name"']],
    ]);
  });
});
