// The COPY path against real PostgreSQL: every column type the sink writes must come out of COPY exactly as the
// statement path writes it (that path is the oracle here), and a row the table refuses must still be found alone.
import { randomUUID } from "node:crypto";
import { type ConnectorError, loadConfig, type ProcessingGuarantee, type SinkRecord } from "@pulsar-connect/core";
import { defineJdbcSink } from "@pulsar-connect/jdbc-common";
import { createSinkContext, makeSinkRecords, type SinkRecordInit } from "@pulsar-connect/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import jdbcPostgresSink, { postgresDialect } from "../src/index.ts";
import { COPY_MIN_ROWS } from "../src/internal/copy.ts";

const endpoint = inject("services").postgres;
const PG = {
  host: endpoint?.host ?? "127.0.0.1",
  port: endpoint?.port ?? 5432,
  user: endpoint?.user ?? "postgres",
  database: endpoint?.database ?? "test",
};
const statementSink = defineJdbcSink({
  name: "jdbc-postgres",
  description: "the statement path alone",
  dialect: { ...postgresDialect, bulkWrite: undefined },
});

let admin: pg.Client;
const tables: string[] = [];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  admin = new pg.Client(PG);
  await admin.connect();
});

afterAll(async () => {
  for (const close of closers) await close();
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS ${table} CASCADE`);
  await admin.query("DROP FUNCTION IF EXISTS pc_copy_note_statement() CASCADE");
  await admin.end();
});

async function table(ddl: (name: string) => string): Promise<string> {
  const name = `pc_copy_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await admin.query(ddl(name));
  tables.push(name);
  return name;
}

/** Notes the text of each statement inserting into `name`, to tell COPY from INSERT. */
async function watch(name: string): Promise<() => Promise<string[]>> {
  const log = `${name}_log`;
  await admin.query(`CREATE TABLE ${log} (seq serial, query text)`);
  tables.push(log);
  await admin.query(
    `CREATE OR REPLACE FUNCTION ${log}_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${log} (query) VALUES (current_query()); RETURN NULL; END $$`,
  );
  await admin.query(
    `CREATE TRIGGER ${log}_note AFTER INSERT ON ${name} FOR EACH STATEMENT EXECUTE FUNCTION ${log}_note()`,
  );
  return async () =>
    (await admin.query(`SELECT query FROM ${log} ORDER BY seq`)).rows.map((row) =>
      /\bCOPY\b/.test(String(row.query)) ? "COPY" : "INSERT",
    );
}

async function open(
  definition: typeof jdbcPostgresSink,
  configs: Record<string, unknown>,
  guarantee: ProcessingGuarantee = "ATLEAST_ONCE",
) {
  const config = loadConfig(definition.config, {
    jdbcUrl: `jdbc:postgresql://${PG.host}:${PG.port}/${PG.database}`,
    userName: PG.user,
    ...configs,
  });
  const { context } = createSinkContext({ name: `copy-${randomUUID().slice(0, 8)}` });
  const sink = await definition.open(config, { ...context, processingGuarantee: guarantee });
  closers.push(() => sink.close());
  return sink;
}

function records(inits: Array<SinkRecordInit<unknown>>): SinkRecord[] {
  return makeSinkRecords(inits, { ledgerId: 9n, firstEntryId: 0n });
}

async function dump(name: string): Promise<string[]> {
  return (await admin.query(`SELECT row_to_json(whole_row)::text AS row FROM ${name} whole_row ORDER BY id`)).rows.map(
    (row) => String(row.row),
  );
}

const TYPED_COLUMNS =
  "id INTEGER PRIMARY KEY, i2 SMALLINT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION, ok BOOLEAN, t TEXT, " +
  "vc VARCHAR(40), ch CHAR(6), js JSON, jb JSONB, bin BYTEA, u UUID, ts TIMESTAMPTZ";

/** Values of every type COPY encodes, with the edges of each, and NULLs. */
function typedValue(i: number): Record<string, unknown> {
  const edge = i % 8;
  return {
    id: i,
    i2: [0, -32768, 32767, null, 7, -1, 12, 300][edge],
    i8: [0, "-9223372036854775808", "9223372036854775807", 9007199254740991, null, -5, -4294967297, -9007199254740991][
      edge
    ],
    f4: [0, 1.5, -0.25, 2 ** 100, null, 1024, -8, 0.5][edge],
    f8: [0, -0, 1.7976931348623157e308, 5e-324, 0.1 + 0.2, null, -123.456, 1e21][edge],
    ok: [true, false, null, true, false, true, false, true][edge],
    t: ["plain", "", "tab\tnew\nline\\back", "ünïcødé 😀", "'quotes\"", null, "x".repeat(300), 17][edge],
    vc: ["v", "f".repeat(40), null, "ß", "a b", "", "z", true][edge],
    ch: ["ab", "abcdef", null, "é", "", " x", "q", "r"][edge],
    js: [{ a: 1 }, [1, 2], '"text"', null, { nested: { b: [true, null] } }, 3, { big: 1.5e300 }, {}][edge],
    jb: [{ b: 2, a: 1 }, [], null, { k: "ü" }, 0, '"s"', { x: { y: null } }, false][edge],
    bin: [
      Buffer.from([0, 1, 2, 255]),
      Buffer.alloc(0),
      null,
      new Uint8Array([9, 8]),
      Buffer.from("hi"),
      null,
      null,
      null,
    ][edge],
    u: [randomUUIDFor(i), null, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", randomUUIDFor(i + 1), null, null, null, null][
      edge
    ],
    ts: [
      new Date(0),
      new Date("2026-11-30T01:02:03.456Z"),
      null,
      new Date("1999-12-31T23:59:59.999Z"),
      null,
      null,
      null,
      null,
    ][edge],
  };
}

function randomUUIDFor(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

describe("jdbc-postgres COPY path", () => {
  it("writes every column type it encodes exactly as the statement path does, NULLs included, at both guarantees", async () => {
    for (const guarantee of ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"] as const) {
      for (const insertMode of ["INSERT", "UPSERT"] as const) {
        const viaCopy = await table((name) => `CREATE TABLE ${name} (${TYPED_COLUMNS})`);
        const viaStatements = await table((name) => `CREATE TABLE ${name} (${TYPED_COLUMNS})`);
        const statements = await watch(viaCopy);
        const batch = records(Array.from({ length: 200 }, (_, i) => ({ value: typedValue(i) })));
        const copySink = await open(jdbcPostgresSink, { tableName: viaCopy, insertMode }, guarantee);
        const statementSinkInstance = await open(statementSink, { tableName: viaStatements, insertMode }, guarantee);
        expect(await copySink.write(batch)).toBeUndefined();
        expect(await statementSinkInstance.write(batch)).toBeUndefined();
        expect(await statements()).toEqual(["COPY"]);
        const written = await dump(viaCopy);
        expect(written).toHaveLength(200);
        expect(written).toEqual(await dump(viaStatements));
      }
    }
  });

  it("leaves to the statement values and types it does not encode, so the database reads them as before", async () => {
    const columns =
      "id INTEGER PRIMARY KEY, n NUMERIC(12,3), q INTEGER, ts TIMESTAMP, d DATE, arr INTEGER[], ip INET, u UUID";
    const viaCopy = await table((name) => `CREATE TABLE ${name} (${columns})`);
    const viaStatements = await table((name) => `CREATE TABLE ${name} (${columns})`);
    const statements = await watch(viaCopy);
    const batch = (from: number, value: (i: number) => Record<string, unknown>) =>
      records(Array.from({ length: COPY_MIN_ROWS * 2 }, (_, i) => ({ value: { id: from + i, ...value(i) } })));
    const batches = [
      batch(0, (i) => ({ n: i / 8 })), // a type without an encoder
      batch(1000, (i) => ({ q: ` ${i} ` })), // text the integer input reads, the encoder does not
      batch(2000, (i) => ({ ts: "2026-01-02 03:04:05", d: "2026-01-02", arr: [i, i + 1], ip: "10.0.0.1" })),
      batch(3000, (i) => ({ u: `{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a${(i % 90) + 10}}` })), // a non-canonical UUID
    ];
    const copySink = await open(jdbcPostgresSink, { tableName: viaCopy });
    const statementSinkInstance = await open(statementSink, { tableName: viaStatements });
    for (const one of batches) {
      expect(await copySink.write(one)).toBeUndefined();
      expect(await statementSinkInstance.write(one)).toBeUndefined();
    }
    expect(await statements()).toEqual(["INSERT", "INSERT", "INSERT", "INSERT"]);
    expect(await dump(viaCopy)).toEqual(await dump(viaStatements));
  });

  // The statement path too: its multi-row insert once cast values to varchar(5), which cut a long one silently.
  for (const [path, definition] of [
    ["COPY", jdbcPostgresSink],
    ["statement", statementSink],
  ] as const)
    for (const insertMode of ["INSERT", "UPSERT"] as const) {
      it(`${insertMode} (${path}): a row the table refuses fails alone at ATLEAST_ONCE; the rest is written`, async () => {
        const name = await table(
          (table) => `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name VARCHAR(5) NOT NULL, qty INTEGER)`,
        );
        const sink = await open(definition, { tableName: name, insertMode });
        const values = Array.from({ length: 300 }, (_, i) => ({ id: i, name: `n${i}`, qty: i }));
        values[17] = { id: 17, name: "far too long", qty: 17 };
        values[250] = { id: 250, name: null as unknown as string, qty: 250 };
        const outcome = await sink.write(records(values.map((value) => ({ value }))));
        expect(outcome?.failed.map((failure) => [failure.index, (failure.error as ConnectorError).code])).toEqual([
          [17, "INVALID_RECORD"],
          [250, "INVALID_RECORD"],
        ]);
        const ids = (await admin.query(`SELECT id FROM ${name} ORDER BY id`)).rows.map((row) => Number(row.id));
        expect(ids).toEqual(values.map((value) => value.id).filter((id) => id !== 17 && id !== 250));
      });
    }

  it("a row refused inside a COPY at EFFECTIVELY_ONCE: the rows before it are committed with their position", async () => {
    const name = await table((table) => `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name VARCHAR(5) NOT NULL)`);
    const sink = await open(jdbcPostgresSink, { tableName: name }, "EFFECTIVELY_ONCE");
    const values = Array.from({ length: 300 }, (_, i) => ({ id: i, name: `n${i}` }));
    values[120] = { id: 120, name: "far too long" };
    const batch = records(values.map((value) => ({ value })));
    const outcome = await sink.write(batch);
    expect(outcome?.failed[0]).toMatchObject({ index: 120 });
    expect((outcome?.failed[0]?.error as ConnectorError | undefined)?.retryable).toBe(false);
    expect(outcome?.failed.slice(1).map((failure) => failure.index)).toEqual(
      Array.from({ length: 179 }, (_, i) => 121 + i),
    );
    expect(Number((await admin.query(`SELECT count(*) AS n FROM ${name}`)).rows[0]?.n)).toBe(120);
    expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(119n);
    // The runtime writes the rest again after dead-lettering the refused one: through COPY, in one go.
    expect(await sink.write(batch.slice(121))).toBeUndefined();
    expect(Number((await admin.query(`SELECT count(*) AS n FROM ${name}`)).rows[0]?.n)).toBe(299);
    expect((await sink.storedPositions?.())?.[0]?.entryId).toBe(299n);
  });

  it("UPSERT by COPY updates existing keys, splits a batch at a repeated key, and recovers after a rolled back write", async () => {
    const name = await table(
      (table) => `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER DEFAULT 7)`,
    );
    const statements = await watch(name);
    const sink = await open(jdbcPostgresSink, { tableName: name, insertMode: "UPSERT" });
    // The first write on this connection is refused as a whole and rolled back, staging table included.
    const refused = Array.from({ length: 100 }, (_, i) => ({ value: { id: i, name: i === 99 ? null : `a${i}` } }));
    expect((await sink.write(records(refused)))?.failed.map((failure) => failure.index)).toEqual([99]);
    const first = Array.from({ length: 100 }, (_, i) => ({ value: { id: i, name: `b${i}`, qty: i } }));
    const second = [
      ...Array.from({ length: 100 }, (_, i) => ({ value: { id: i + 50, name: `c${i + 50}`, qty: -i } })),
      ...Array.from({ length: 100 }, (_, i) => ({ value: { id: i + 100, name: `d${i + 100}`, qty: 1000 + i } })),
    ];
    expect(await sink.write(records(first))).toBeUndefined();
    expect(await sink.write(records(second))).toBeUndefined();
    const rows = (await admin.query(`SELECT id, name, qty FROM ${name} ORDER BY id`)).rows;
    expect(rows).toHaveLength(200);
    expect(rows[0]).toEqual({ id: 0, name: "b0", qty: 0 });
    expect(rows[49]).toEqual({ id: 49, name: "b49", qty: 49 });
    expect(rows[50]).toEqual({ id: 50, name: "c50", qty: 0 });
    expect(rows[149]).toEqual({ id: 149, name: "d149", qty: 1049 });
    expect(await statements()).toContain("COPY");
    // The second write holds ids 100-149 twice: two COPY upserts in one transaction.
    expect((await statements()).filter((kind) => kind === "COPY").length).toBeGreaterThanOrEqual(3);
  });
});
