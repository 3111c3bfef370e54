// The uncertain-commit path against a real PostgreSQL: the server ends the sink's connection in the middle of its
// COMMIT (a deferred constraint trigger terminates its own backend), so the sink cannot know whether the
// transaction was committed. The write must fail as retryable, and the same records handed over again must end up
// stored exactly once.
import { randomUUID } from "node:crypto";
import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import jdbcPostgresSink from "../src/index.ts";

const endpoint = inject("services").postgres;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 5432;
const user = endpoint?.user ?? "postgres";
const database = endpoint?.database ?? "test";
const admin = new pg.Client({ host, port, user, database });
const table = `pc_commit_lost_${randomUUID().replaceAll("-", "").slice(0, 10)}`;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE TABLE ${table} (id INTEGER NOT NULL, name TEXT)`);
  // A sequence is not transactional: only the first commit that reaches the trigger loses its connection.
  await admin.query(`CREATE SEQUENCE ${table}_kills`);
  await admin.query(`CREATE FUNCTION ${table}_end() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('${table}_kills') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
      RETURN NULL;
    END $$`);
  await admin.query(
    `CREATE CONSTRAINT TRIGGER ${table}_end AFTER INSERT ON ${table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${table}_end()`,
  );
});

afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.query(`DROP FUNCTION IF EXISTS ${table}_end()`);
  await admin.query(`DROP SEQUENCE IF EXISTS ${table}_kills`);
  await admin.query(`DELETE FROM pulsar_connect_positions WHERE connector_name = $1`, [`public/default/${table}`]);
  await admin.end();
});

it("a connection lost during COMMIT fails the write as retryable; writing the records again stores each once", async () => {
  // Its own connector name: the positions row the sink consults after the lost commit is this test's alone.
  const handle = createSinkContext({ name: table });
  const config = loadConfig(jdbcPostgresSink.config, {
    jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}`,
    userName: user,
    tableName: table,
  });
  const sink = await jdbcPostgresSink.open(config, handle.context);
  try {
    const batch = makeSinkRecords(
      Array.from({ length: 5 }, (_, id) => ({ value: { id, name: `row ${id}` } })),
      { ledgerId: 41n, firstEntryId: 0n },
    );
    const error = await Promise.resolve(sink.write(batch)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, "the write whose COMMIT lost its connection fails").toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).retryable).toBe(true);
    expect((error as ConnectorError).message).toContain("terminating connection");
    // The trigger ran at COMMIT time, so the server did reach the commit and ended the backend there.
    expect(Number((await admin.query(`SELECT last_value FROM ${table}_kills`)).rows[0].last_value)).toBe(1);
    const again = await sink.write(batch);
    expect(again?.failed ?? []).toEqual([]);
    const { rows } = await admin.query(`SELECT id FROM ${table} ORDER BY id`);
    expect(rows.map((row: { id: number }) => row.id)).toEqual([0, 1, 2, 3, 4]);
  } finally {
    await sink.close();
  }
});
