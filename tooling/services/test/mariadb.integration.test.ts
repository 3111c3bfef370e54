import { randomUUID } from "node:crypto";
import mysql from "mysql2/promise";
import { describe, expect, inject, it } from "vitest";

const endpoint = inject("services").mariadb!;

describe("mariadb", () => {
  it("lets root in with an empty password and round-trips rows in the test database", async () => {
    const connection = await mysql.createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      password: endpoint.password,
      database: endpoint.database,
    });
    const table = `smoke_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await connection.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)`);
      await connection.execute(`INSERT INTO ${table} (id, name) VALUES (?, ?), (?, ?)`, [1, "one", 2, "two"]);
      const [rows] = await connection.query(`SELECT id, name FROM ${table} ORDER BY id`);
      expect(rows).toEqual([
        { id: 1, name: "one" },
        { id: 2, name: "two" },
      ]);
    } finally {
      await connection.query(`DROP TABLE IF EXISTS ${table}`);
      await connection.end();
    }
  });
});
