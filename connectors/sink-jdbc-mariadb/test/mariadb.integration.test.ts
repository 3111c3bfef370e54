import mysql from "mysql2/promise";
import { inject } from "vitest";
import { describeJdbcSink } from "../../../packages/jdbc-common/test/sink-suite.ts";
import jdbcMariadbSink from "../src/index.ts";

const endpoint = inject("services").mariadb;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 3306;
const user = endpoint?.user ?? "root";
const password = endpoint?.password ?? "";
const database = endpoint?.database ?? "test";

describeJdbcSink({
  label: "MariaDB",
  definition: jdbcMariadbSink,
  concurrentWriters: true,
  jdbcUrl: `jdbc:mariadb://${host}:${port}/${database}`,
  userName: user,
  password,
  equivalentUrls: [
    `jdbc:mariadb://${host}:${port}/${database}?user=${user}`,
    `jdbc:mysql://${host}:${port}/${database}?user=${user}`,
    `mysql://${user}@${host}:${port}/${database}`,
  ],
  foreignUrl: "jdbc:postgresql://127.0.0.1:5432/test",
  unreachableUrl: `jdbc:mariadb://127.0.0.1:1/${database}`,
  async admin() {
    const connection = await mysql.createConnection({ host, port, user, password, database, multipleStatements: true });
    return {
      async exec(sql) {
        await connection.query(sql);
      },
      async rows(sql) {
        const [rows] = await connection.query(sql);
        return rows as Array<Record<string, unknown>>;
      },
      async close() {
        await connection.end();
      },
    };
  },
  createTable: (table) =>
    `CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(100), qty INT, active BOOLEAN, note BLOB) ENGINE=InnoDB`,
  failPositionsFor: (trigger, connectorName) => [
    `CREATE TRIGGER ${trigger} BEFORE INSERT ON pulsar_connect_positions FOR EACH ROW BEGIN IF NEW.connector_name = '${connectorName}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'positions refused'; END IF; END`,
  ],
  dropTrigger: (trigger) => `DROP TRIGGER IF EXISTS ${trigger}`,
  dropConnections: {
    // A user of its own makes the sink's connection easy to find in the process list.
    async configFor(admin, marker) {
      await admin.exec(`CREATE USER '${marker}'@'%' IDENTIFIED BY '${marker}'`);
      await admin.exec(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO '${marker}'@'%'`);
      return { userName: marker, password: marker };
    },
    async drop(admin, marker) {
      const rows = await admin.rows(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${marker}'`);
      for (const row of rows) await admin.exec(`KILL CONNECTION ${Number(row.ID)}`);
    },
    async release(admin, marker) {
      await admin.exec(`DROP USER '${marker}'@'%'`);
    },
  },
});
