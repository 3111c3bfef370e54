import type { SqlDialect, TableColumn, TableRef } from "../dialect.ts";

/** The target table with its columns indexed for field lookups. */
export class Table {
  readonly ref: TableRef;
  readonly columns: readonly TableColumn[];
  /** Quoted, schema-qualified name for statements. */
  readonly quotedName: string;
  private readonly exact = new Map<string, TableColumn>();
  private readonly folded = new Map<string, TableColumn>();
  private readonly ordinal = new Map<string, number>();
  private readonly quotedNames = new Map<string, string>();

  constructor(ref: TableRef, columns: readonly TableColumn[], dialect: SqlDialect) {
    this.ref = ref;
    this.columns = columns;
    this.quotedName =
      ref.schema === undefined
        ? dialect.quoteIdentifier(ref.name)
        : `${dialect.quoteIdentifier(ref.schema)}.${dialect.quoteIdentifier(ref.name)}`;
    columns.forEach((column, index) => {
      this.exact.set(column.name, column);
      if (!this.folded.has(column.name.toLowerCase())) this.folded.set(column.name.toLowerCase(), column);
      this.ordinal.set(column.name, index);
      this.quotedNames.set(column.name, dialect.quoteIdentifier(column.name));
    });
  }

  /** The quoted name of a column, for statements. */
  quoted(column: TableColumn): string {
    return this.quotedNames.get(column.name) ?? column.name;
  }

  /** The column a record field maps to: same name, else same name ignoring case. */
  column(field: string): TableColumn | undefined {
    return this.exact.get(field) ?? this.folded.get(field.toLowerCase());
  }

  /** Position of a column in the table, for a stable column order in statements. */
  ordinalOf(column: TableColumn): number {
    return this.ordinal.get(column.name) ?? 0;
  }

  /** Primary key columns in key order. */
  primaryKey(): TableColumn[] {
    return this.columns
      .filter((column) => column.primaryKeyPosition > 0)
      .sort((a, b) => a.primaryKeyPosition - b.primaryKeyPosition);
  }

  /** Display name for messages. */
  displayName(): string {
    return this.ref.schema === undefined ? this.ref.name : `${this.ref.schema}.${this.ref.name}`;
  }
}

/** Splits `schema.table` (quotes allowed around either part). */
export function parseTableName(tableName: string): TableRef {
  const parts = tableName.match(/"[^"]*"|`[^`]*`|[^.]+/g) ?? [];
  const clean = parts.map((part) => part.trim().replace(/^["`](.*)["`]$/, "$1"));
  if (clean.length >= 2) return { schema: clean.slice(0, -1).join("."), name: clean[clean.length - 1] ?? "" };
  return { name: clean[0] ?? tableName };
}
