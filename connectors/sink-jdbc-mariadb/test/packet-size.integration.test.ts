// Bulk statements stay under the server's max_allowed_packet, counted in bytes: a larger one makes the server drop
// the connection, which the sink takes for a lost connection and retries without end.
import { randomUUID } from "node:crypto";
import { loadConfig, type SinkInstance } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import jdbcMariadbSink from "../src/index.ts";
import { type PrivateMariadb, startPrivateMariadb } from "./private-mariadb.ts";

let server: PrivateMariadb;
const instances: SinkInstance[] = [];

beforeAll(async () => {
  server = await startPrivateMariadb(["--max-allowed-packet=4M"]);
}, 60_000);

afterAll(async () => {
  for (const sink of instances) await sink.close();
  await server?.stop();
});

async function writeRows(name: (i: number) => string, count: number): Promise<number[]> {
  const admin = await server.connect();
  try {
    const table = `pc_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await admin.query(
      `CREATE TABLE test.${table} (id INT PRIMARY KEY, name TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    const config = loadConfig(jdbcMariadbSink.config, {
      jdbcUrl: `jdbc:mariadb://127.0.0.1:${server.port}/test`,
      userName: "root",
      tableName: table,
    });
    const sink = await jdbcMariadbSink.open(config, createSinkContext({ name: `sink-${table}` }).context);
    instances.push(sink);
    const inits = Array.from({ length: count }, (_, i) => ({ value: { id: i, name: name(i) } }));
    const outcome = await sink.write(makeSinkRecords(inits, { ledgerId: 7n, firstEntryId: 0n }));
    expect(outcome?.failed ?? []).toEqual([]);
    const [rows] = await admin.query(`SELECT COUNT(*) AS n, SUM(CHAR_LENGTH(name)) AS chars FROM test.${table}`);
    const [row] = rows as Array<Record<string, unknown>>;
    return [Number(row?.n), Number(row?.chars)];
  } finally {
    await admin.end();
  }
}

describe("MariaDB bulk statement size", () => {
  it("counts bytes: multi-byte text three times its length in characters is written", async () => {
    // 3 million characters (under 4 MB counted in UTF-16 units), 9 MB of UTF-8.
    const text = "€".repeat(300);
    expect(await writeRows(() => text, 10_000)).toEqual([10_000, 3_000_000]);
  });

  it("stays under a max_allowed_packet smaller than its own limit", async () => {
    const admin = await server.connect();
    await admin.query("SET GLOBAL max_allowed_packet = 2097152");
    await admin.end();
    // About 3 MB of ASCII: one statement under the 4 MB limit, more than a 2 MB packet.
    const text = "x".repeat(300);
    expect(await writeRows(() => text, 10_000)).toEqual([10_000, 3_000_000]);
  });
});
