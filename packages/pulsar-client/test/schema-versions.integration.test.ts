// Messages carry the schema version they were written with; getSchema(topic, version) answers with exactly that
// version (cached per version), so a consumer decodes each message with its writer's schema, not the latest.
import { afterAll, describe, expect, it } from "vitest";
import { newClient, uniqueTopic } from "./helpers.ts";
import { interop } from "./java-helper.ts";

const client = newClient();
afterAll(() => client.close());

const nullableEmail = { name: "email", type: ["null", "string"], default: null };
const name = { name: "name", type: "string", default: "" };
const id = { name: "id", type: "long" };
const VERSIONS = [
  { type: "record", name: "User", fields: [id, name] },
  { type: "record", name: "User", fields: [id, name, nullableEmail] }, // field added
  { type: "record", name: "User", fields: [id, nullableEmail] }, // field removed
];

describe("schema versions", () => {
  it("each message's schema version resolves to the definition it was written with (Avro: added, then removed)", async () => {
    const topic = uniqueTopic("avro-evolution");
    const consumer = await client.subscribe({ topic, subscription: "s", subscriptionInitialPosition: "Earliest" });
    await interop("produce-avro-versions", topic, ...VERSIONS.map((v) => JSON.stringify(v)));
    const seen: Array<{ key: string | undefined; version: bigint; fields: string[] }> = [];
    for (let i = 0; i < VERSIONS.length; i++) {
      const m = await consumer.receive(20_000);
      expect(m.schemaVersion).toBeDefined();
      const schema = await client.getSchema(m.topic, m.schemaVersion);
      expect(schema?.type).toBe("AVRO");
      const definition = JSON.parse(schema!.schema.toString()) as { fields: Array<{ name: string }> };
      seen.push({
        key: m.key,
        version: schema!.version!.readBigInt64BE(),
        fields: definition.fields.map((f) => f.name),
      });
      // Cached: asking again for the same version answers with the same object, without a broker round trip.
      expect(await client.getSchema(m.topic, m.schemaVersion)).toBe(schema);
      await consumer.acknowledge(m);
    }
    expect(seen).toEqual([
      { key: "v0", version: 0n, fields: ["id", "name"] },
      { key: "v1", version: 1n, fields: ["id", "name", "email"] },
      { key: "v2", version: 2n, fields: ["id", "email"] },
    ]);
    // The latest is the last version; the first message would be misread with it.
    expect((await client.getSchema(topic))?.version?.readBigInt64BE()).toBe(2n);
    await consumer.close();
  });
});
