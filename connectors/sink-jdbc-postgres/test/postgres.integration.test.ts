import pg from "pg";
import { inject } from "vitest";
import { describeJdbcSink } from "../../../packages/jdbc-common/test/sink-suite.ts";
import jdbcPostgresSink from "../src/index.ts";

const endpoint = inject("services").postgres;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 5432;
const user = endpoint?.user ?? "postgres";
const database = endpoint?.database ?? "test";

describeJdbcSink({
  label: "PostgreSQL",
  definition: jdbcPostgresSink,
  concurrentWriters: true,
  jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}`,
  userName: user,
  equivalentUrls: [
    `jdbc:postgresql://${host}:${port}/${database}?user=${user}`,
    `postgres://${user}@${host}:${port}/${database}`,
    `postgresql://${host}:${port}/${database}?user=${user}&currentSchema=public`,
  ],
  foreignUrl: "jdbc:mariadb://127.0.0.1:3306/test",
  unreachableUrl: `jdbc:postgresql://127.0.0.1:1/${database}`,
  async admin() {
    const client = new pg.Client({ host, port, user, database });
    await client.connect();
    return {
      async exec(sql) {
        await client.query(sql);
      },
      async rows(sql) {
        return (await client.query(sql)).rows;
      },
      async close() {
        await client.end();
      },
    };
  },
  createTable: (table) =>
    `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name VARCHAR(100), qty INTEGER, active BOOLEAN, note BYTEA)`,
  failPositionsFor: (trigger, connectorName) => [
    `CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.connector_name = '${connectorName}' THEN RAISE EXCEPTION 'positions refused'; END IF; RETURN NEW; END $$`,
    `CREATE TRIGGER ${trigger} BEFORE INSERT OR UPDATE ON pulsar_connect_positions FOR EACH ROW EXECUTE FUNCTION ${trigger}()`,
  ],
  dropConnections: {
    configFor: async (_admin, marker) => ({
      jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}?ApplicationName=${marker}`,
    }),
    async drop(admin, marker) {
      await admin.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${marker}'`);
    },
  },
  statementLog: {
    install: (table, log) => [
      `CREATE TABLE ${log} (seq serial PRIMARY KEY, tx bigint NOT NULL, n integer NOT NULL)`,
      `CREATE FUNCTION ${log}_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${log} (tx, n) SELECT txid_current(), count(*) FROM new_rows; RETURN NULL; END $$`,
      `CREATE TRIGGER ${log}_note AFTER INSERT ON ${table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${log}_note()`,
    ],
    uninstall: (table, log) => [
      `DROP TRIGGER IF EXISTS ${log}_note ON ${table}`,
      `DROP FUNCTION IF EXISTS ${log}_note()`,
      `DROP TABLE IF EXISTS ${log}`,
    ],
  },
  dropTrigger: (trigger) =>
    `DROP TRIGGER IF EXISTS ${trigger} ON pulsar_connect_positions; DROP FUNCTION IF EXISTS ${trigger}()`,
});
