import type { SinkDefinition } from "@pulsar-connect/core";
import { defineJdbcSink, type JdbcSinkConfigSchema } from "@pulsar-connect/jdbc-common";
import { sqliteDialect } from "./internal/dialect.ts";

/** The jdbc-sqlite sink: writes records into a table of an embedded SQLite database file. */
const jdbcSqliteSink: SinkDefinition<JdbcSinkConfigSchema> = defineJdbcSink({
  name: "jdbc-sqlite",
  description: "Writes records to a SQLite table (upstream jdbc-sqlite config)",
  dialect: sqliteDialect,
});

export default jdbcSqliteSink;
export { sqliteDialect };
