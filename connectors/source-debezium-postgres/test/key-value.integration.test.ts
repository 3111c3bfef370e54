// What consumers written for upstream's Debezium source see: the source runs through the runtime against the real
// PostgreSQL cluster and Pulsar, and Apache Pulsar's Java client reads the table's topic with AUTO_CONSUME. The topic
// schema is KeyValue<JSON, JSON> with SEPARATED encoding: the key columns travel as the message key (base64 key
// bytes), the change event as the payload.
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interop } from "../../../packages/pulsar-client/test/java-helper.ts";
import definition from "../src/index.ts";
import { cdcConfig, dropReplicationObjects, pulsarEndpoints, sql, uniqueName } from "./cdc.ts";

const { serviceUrl, adminUrl } = pulsarEndpoints();
const created: Array<Record<string, unknown>> = [];
const stops: Array<() => Promise<void>> = [];
let client: PulsarClient;
let db: Awaited<ReturnType<typeof sql>>;

beforeAll(async () => {
  client = new PulsarClient({ serviceUrl });
  db = await sql();
});

afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  await client?.close();
  await dropReplicationObjects(created);
  await db?.end();
});

async function storedCount(topic: string): Promise<number> {
  const response = await fetch(`${adminUrl}/admin/v2/persistent/${topic}/stats`);
  if (response.status !== 200) return 0;
  return ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
}

/** Runs the source in this process, writing into public/default. */
async function runSource(configs: Record<string, unknown>): Promise<void> {
  created.push(configs);
  const resolved = resolveSourceConfig({
    tenant: "public",
    namespace: "default",
    name: uniqueName("cdc-kv").replaceAll("_", "-"),
    archive: "builtin://debezium-postgres",
    topicName: `persistent://public/default/${uniqueName("cdc-kv-unused")}`,
    processingGuarantees: "ATLEAST_ONCE",
    configs,
  });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  const instance = createInstance({
    kind: "source",
    config: resolved.value,
    definition,
    instanceId: 0,
    pulsar: { client: client as never, adminUrl },
  });
  stops.push(() => instance.stop());
  await instance.start();
}

interface JavaView {
  schemaType: string;
  keySchemaType: string;
  valueSchemaType: string;
  encoding: string;
  messageKey: string;
  base64Key: string;
  keyFromBytes: string;
  key: unknown;
  value: { op: string; before: unknown; after: unknown; source: { table: string; snapshot: string } };
}

/** Reads `count` messages of `topic` with the Java client's AUTO_CONSUME. */
async function readWithJava(topic: string, count: number): Promise<JavaView[]> {
  const rows = await interop("key-value-consume", `persistent://${topic}`, String(count));
  return rows.map(
    ([, schemaType, keySchemaType, valueSchemaType, encoding, messageKey, base64Key, keyFromBytes, key, value]) => ({
      schemaType: schemaType as string,
      keySchemaType: keySchemaType as string,
      valueSchemaType: valueSchemaType as string,
      encoding: encoding as string,
      messageKey: messageKey as string,
      base64Key: base64Key as string,
      keyFromBytes: keyFromBytes as string,
      key: JSON.parse(key as string),
      value: JSON.parse(value as string),
    }),
  );
}

describe("debezium-postgres topics read by Apache Pulsar's Java client", () => {
  it("carry KeyValue<JSON, JSON> SEPARATED: key columns in the message key, the event in the payload", async () => {
    const table = uniqueName("kv");
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, score float8)`);
    await db.query(`INSERT INTO ${table} VALUES (1, 'one', 1.5)`);
    await runSource(cdcConfig(table));
    const topic = `public/default/cdctest.public.${table}`;
    await expect.poll(() => storedCount(topic), { timeout: 60_000, interval: 250 }).toBe(1);
    await db.query(`INSERT INTO ${table} VALUES (2, 'two', NULL)`);
    await db.query(`UPDATE ${table} SET name = 'uno' WHERE id = 1`);
    await db.query(`DELETE FROM ${table} WHERE id = 2`);
    await expect.poll(() => storedCount(topic), { timeout: 60_000, interval: 250 }).toBe(4);

    const schema = (await (await fetch(`${adminUrl}/admin/v2/schemas/${topic}/schema`)).json()) as {
      type: string;
      properties: Record<string, string>;
    };
    expect(schema.type).toBe("KEY_VALUE");
    expect(schema.properties).toMatchObject({
      "kv.encoding.type": "SEPARATED",
      "key.schema.type": "JSON",
      "value.schema.type": "JSON",
    });

    const seen = await readWithJava(topic, 4);
    expect(seen).toHaveLength(4);
    for (const view of seen) {
      expect(view).toMatchObject({
        schemaType: "KEY_VALUE",
        keySchemaType: "JSON",
        valueSchemaType: "JSON",
        encoding: "SEPARATED",
        base64Key: "true",
      });
      expect(Buffer.from(view.messageKey, "base64").toString()).toBe(view.keyFromBytes);
      expect(JSON.parse(view.keyFromBytes)).toEqual(view.key);
      expect(view.value.source.table).toBe(table);
    }
    expect(seen.map((view) => [view.value.op, view.key])).toEqual([
      ["r", { id: 1 }],
      ["c", { id: 2 }],
      ["u", { id: 1 }],
      ["d", { id: 2 }],
    ]);
    expect(seen[0]?.value).toMatchObject({ before: null, after: { id: 1, name: "one", score: 1.5 } });
    expect(seen[1]?.value.after).toEqual({ id: 2, name: "two", score: null });
    expect(seen[2]?.value.after).toEqual({ id: 1, name: "uno", score: 1.5 });
    expect(seen[3]?.value).toMatchObject({ before: { id: 2 }, after: null });
  }, 180_000);

  it("of a table without a key: no message key, and the Java client reads a null key", async () => {
    const table = uniqueName("kv_nokey");
    await db.query(`CREATE TABLE ${table} (a int, "b-text" text)`);
    await db.query(`INSERT INTO ${table} VALUES (1, 'x')`);
    await runSource(cdcConfig(table));
    const topic = `public/default/cdctest.public.${table}`;
    await expect.poll(() => storedCount(topic), { timeout: 60_000, interval: 250 }).toBe(1);
    await db.query(`INSERT INTO ${table} VALUES (2, 'y')`);
    await expect.poll(() => storedCount(topic), { timeout: 60_000, interval: 250 }).toBe(2);

    const seen = await readWithJava(topic, 2);
    expect(seen.map((view) => [view.encoding, view.messageKey, view.keyFromBytes, view.key])).toEqual([
      ["SEPARATED", "null", "", null],
      ["SEPARATED", "null", "", null],
    ]);
    // A column name Avro does not accept is renamed in the schema only: the event keeps the column's name.
    expect(seen.map((view) => [view.value.op, view.value.after])).toEqual([
      ["r", { a: 1, "b-text": "x" }],
      ["c", { a: 2, "b-text": "y" }],
    ]);
  }, 180_000);
});
