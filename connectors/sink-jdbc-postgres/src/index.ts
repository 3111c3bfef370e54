import type { SinkDefinition } from "@pulsar-connect/core";
import { defineJdbcSink, type JdbcSinkConfigSchema } from "@pulsar-connect/jdbc-common";
import { postgresDialect } from "./internal/dialect.ts";

/** The jdbc-postgres sink: writes records into a PostgreSQL table. */
const jdbcPostgresSink: SinkDefinition<JdbcSinkConfigSchema> = defineJdbcSink({
  name: "jdbc-postgres",
  description: "Writes records to a PostgreSQL table (upstream jdbc-postgres config)",
  dialect: postgresDialect,
});

export default jdbcPostgresSink;
export { postgresDialect };
