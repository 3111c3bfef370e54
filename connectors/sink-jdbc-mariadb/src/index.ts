import type { SinkDefinition } from "@pulsar-connect/core";
import { defineJdbcSink, type JdbcSinkConfigSchema } from "@pulsar-connect/jdbc-common";
import { mariadbDialect } from "./internal/dialect.ts";

/** The jdbc-mariadb sink: writes records into a MariaDB (or MySQL) table. */
const jdbcMariadbSink: SinkDefinition<JdbcSinkConfigSchema> = defineJdbcSink({
  name: "jdbc-mariadb",
  description: "Writes records to a MariaDB or MySQL table (upstream jdbc-mariadb config)",
  dialect: mariadbDialect,
});

export default jdbcMariadbSink;
export { mariadbDialect };
