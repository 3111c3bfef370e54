import pg from "pg";
import { describe, expect, inject, it } from "vitest";

const endpoint = inject("services")["postgres-logical"]!;

describe("postgres-logical", () => {
  it("runs with wal_level=logical and lets the test database create a logical replication slot", async () => {
    const client = new pg.Client({ connectionString: endpoint.connectionString });
    await client.connect();
    const slot = `services_check_${process.pid}`;
    try {
      const wal = await client.query<{ wal_level: string }>("SHOW wal_level");
      expect(wal.rows[0]?.wal_level).toBe("logical");
      const created = await client.query<{ slot_name: string }>(
        "SELECT slot_name FROM pg_create_logical_replication_slot($1, 'pgoutput')",
        [slot],
      );
      expect(created.rows[0]?.slot_name).toBe(slot);
    } finally {
      await client.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [
        slot,
      ]);
      await client.end();
    }
  });

  it("is not the shared server", () => {
    expect(endpoint.port).not.toBe(5432);
  });
});
