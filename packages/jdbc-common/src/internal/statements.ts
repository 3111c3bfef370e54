import type { SqlDialect } from "../dialect.ts";
import type { PreparedRow } from "./rows.ts";

/** One statement to run and the rows it writes. */
export interface StatementUnit {
  readonly sql: string;
  readonly params: unknown[];
  readonly rows: PreparedRow[];
}

/** A statement built when it is first asked for: a dialect's bulk write may make it unneeded. */
class PlannedStatement implements StatementUnit {
  readonly rows: PreparedRow[];
  private readonly tableName: string;
  private readonly dialect: SqlDialect;
  private built: StatementUnit | undefined;

  constructor(rows: PreparedRow[], tableName: string, dialect: SqlDialect) {
    this.rows = rows;
    this.tableName = tableName;
    this.dialect = dialect;
  }

  get sql(): string {
    this.built ??= buildStatement(this.rows, this.tableName, this.dialect);
    return this.built.sql;
  }

  get params(): unknown[] {
    this.built ??= buildStatement(this.rows, this.tableName, this.dialect);
    return this.built.params;
  }
}

/**
 * Groups consecutive rows of the same shape into multi-row statements, keeping the record order between groups.
 * A statement carries at most `rowsPerStatement` rows and never more bind parameters than the dialect allows;
 * with `bulk`, INSERT and UPSERT groups have no size limit (for {@link SqlDialect.bulkWrite}, which takes any number
 * of rows; the statements of a group it declines are planned again without `bulk`).
 */
export function planStatements(
  rows: readonly PreparedRow[],
  tableName: string,
  dialect: SqlDialect,
  rowsPerStatement: number,
  bulk = false,
): StatementUnit[] {
  const units: StatementUnit[] = [];
  let group: PreparedRow[] = [];
  let upsertKeys = new Set<unknown>();
  const flush = () => {
    if (group.length > 0) units.push(new PlannedStatement(group, tableName, dialect));
    group = [];
    upsertKeys = new Set();
  };
  for (const row of rows) {
    const first = group[0];
    const perRow = Math.max(1, row.mutation === "DELETE" ? row.keys.length : row.values.length);
    const unbounded = bulk && (row.mutation === "INSERT" || row.mutation === "UPSERT");
    const limit = unbounded
      ? Number.POSITIVE_INFINITY
      : Math.max(1, Math.min(rowsPerStatement, Math.floor(dialect.maxParameters / perRow)));
    if (first !== undefined && (first.signature !== row.signature || group.length >= limit)) flush();
    if (row.mutation === "UPDATE") {
      units.push(buildStatement([row], tableName, dialect));
      continue;
    }
    if (row.mutation === "UPSERT") {
      // One statement cannot touch the same row twice (PostgreSQL refuses it): start a new one.
      const identity = keyIdentity(row.keyValues);
      if (upsertKeys.has(identity)) flush();
      upsertKeys.add(identity);
    }
    group.push(row);
  }
  flush();
  return units;
}

/**
 * One value per distinct key: a single string or number key stands for itself (a Set tells 1 from "1", as the JSON
 * text does); anything else becomes its JSON text.
 */
function keyIdentity(keyValues: readonly unknown[]): unknown {
  if (keyValues.length === 1) {
    const only = keyValues[0];
    if (typeof only === "string" || typeof only === "number") return only;
  }
  return JSON.stringify(keyValues, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

/** The statement writing exactly `rows` (all of the same signature). */
export function buildStatement(rows: readonly PreparedRow[], tableName: string, dialect: SqlDialect): StatementUnit {
  const first = rows[0];
  if (first === undefined) throw new Error("no rows");
  const params: unknown[] = [];
  const bind = (value: unknown) => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  let sql: string;
  switch (first.mutation) {
    case "INSERT":
    case "UPSERT": {
      const columnar = rows.length > 1 ? dialect.columnarInsert?.(tableName, first.columns, first.types) : undefined;
      if (columnar !== undefined) {
        sql = columnar;
        for (let column = 0; column < first.columns.length; column++)
          params.push(rows.map((row) => row.values[column]));
      } else {
        const tuples = rows.map((row) => `(${row.values.map(bind).join(", ")})`);
        sql = `INSERT INTO ${tableName} (${first.columns.join(", ")}) VALUES ${tuples.join(", ")}`;
      }
      if (first.mutation === "UPSERT") sql += dialect.upsertClause(first.keys, first.updates);
      break;
    }
    case "UPDATE": {
      const sets = first.columns.map((column, index) => `${column} = ${bind(first.values[index])}`);
      const where = first.keys.map((column, index) => `${column} = ${bind(first.keyValues[index])}`);
      sql = `UPDATE ${tableName} SET ${sets.join(", ")} WHERE ${where.join(" AND ")}`;
      break;
    }
    case "DELETE": {
      if (first.keys.length === 1) {
        sql = `DELETE FROM ${tableName} WHERE ${first.keys[0]} IN (${rows.map((row) => bind(row.keyValues[0])).join(", ")})`;
      } else if (rows.length === 1) {
        sql = `DELETE FROM ${tableName} WHERE ${first.keys.map((column, index) => `${column} = ${bind(first.keyValues[index])}`).join(" AND ")}`;
      } else {
        const tuples = rows.map((row) => `(${row.keyValues.map(bind).join(", ")})`);
        sql = `DELETE FROM ${tableName} WHERE (${first.keys.join(", ")}) IN (${tuples.join(", ")})`;
      }
      break;
    }
  }
  return { sql, params, rows: [...rows] };
}
