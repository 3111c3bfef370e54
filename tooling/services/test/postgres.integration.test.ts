import { randomUUID } from "node:crypto";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";

const endpoint = inject("services").postgres!;

describe("postgresql", () => {
  it("serves the test database to the endpoint user and to root", async () => {
    for (const user of [endpoint.user, "root"]) {
      const client = new pg.Client({ host: endpoint.host, port: endpoint.port, user, database: endpoint.database });
      await client.connect();
      try {
        const who = await client.query<{ db: string; usr: string }>(
          "SELECT current_database() AS db, current_user AS usr",
        );
        expect(who.rows[0]).toEqual({ db: "test", usr: user });
      } finally {
        await client.end();
      }
    }
  });

  it("creates a table, inserts and selects", async () => {
    const client = new pg.Client({ connectionString: endpoint.connectionString });
    await client.connect();
    const table = `smoke_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`);
      await client.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2), ($3, $4)`, [1, "one", 2, "two"]);
      const result = await client.query<{ id: number; name: string }>(`SELECT id, name FROM ${table} ORDER BY id`);
      expect(result.rows).toEqual([
        { id: 1, name: "one" },
        { id: 2, name: "two" },
      ]);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  });
});
