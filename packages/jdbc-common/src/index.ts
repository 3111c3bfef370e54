export {
  type InsertMode,
  type JdbcSinkConfig,
  type JdbcSinkConfigOptions,
  type JdbcSinkConfigSchema,
  jdbcSinkConfigSchema,
  type Mutation,
  type NullValueAction,
  splitColumnList,
  transactionSize,
} from "./config.ts";
export {
  type BulkRows,
  jsonParameter,
  onConflictUpsertClause,
  onDuplicateKeyUpsertClause,
  type SqlConnection,
  type SqlDialect,
  type SqlErrorKind,
  type SqlResult,
  type TableColumn,
  type TableRef,
} from "./dialect.ts";
export { defineJdbcSink, type JdbcSinkOptions, POSITIONS_TABLE } from "./sink.ts";
export { type DatabaseTls, DatabaseTlsError, mariadbTls, postgresTls, tlsConnectionOptions } from "./tls.ts";
export { type DatabaseUrl, DatabaseUrlError, parseDatabaseUrl } from "./url.ts";
