import type pg from "pg";
import type { TableFilter } from "./envelope.ts";
import { parseArray } from "./values.ts";

/** A captured table and its primary key columns (in key order). */
export interface TableInfo {
  oid: number;
  schema: string;
  table: string;
  primaryKey: string[];
}

const TABLES_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS table,
  COALESCE((SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum))
              FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY n.nspname, c.relname`;

/** Tables of the database the filter selects. The client returns every value as text. */
export async function capturedTables(client: pg.Client, filter: TableFilter): Promise<TableInfo[]> {
  const result = await client.query<{ oid: string; schema: string; table: string; pk: string }>(TABLES_SQL);
  return result.rows
    .filter((row) => filter.includes(row.schema, row.table))
    .map((row) => ({
      oid: Number(row.oid),
      schema: row.schema,
      table: row.table,
      primaryKey: parseArray(row.pk).filter((name): name is string => typeof name === "string"),
    }));
}

/** `"schema"."table"` */
export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
