import { randomUUID } from "node:crypto";
import cassandra from "cassandra-driver";
import { describe, expect, inject, it } from "vitest";

const endpoint = inject("services").cassandra!;

describe("cassandra", () => {
  it("creates a keyspace and table, writes and reads rows", async () => {
    const client = new cassandra.Client({
      contactPoints: endpoint.contactPoints,
      localDataCenter: endpoint.localDataCenter,
    });
    const keyspace = `smoke_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await client.execute(
        `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
      await client.execute(`CREATE TABLE ${keyspace}.items (id int PRIMARY KEY, name text)`);
      for (const [id, name] of [
        [1, "one"],
        [2, "two"],
      ] as const) {
        await client.execute(`INSERT INTO ${keyspace}.items (id, name) VALUES (?, ?)`, [id, name], { prepare: true });
      }
      const one = await client.execute(`SELECT name FROM ${keyspace}.items WHERE id = ?`, [2], { prepare: true });
      expect(one.first()?.get("name")).toBe("two");
      const all = await client.execute(`SELECT id FROM ${keyspace}.items`);
      expect(all.rows.map((row) => row.get("id") as number).sort()).toEqual([1, 2]);
    } finally {
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
      await client.shutdown();
    }
  });
});
