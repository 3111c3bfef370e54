import { afterAll, describe, expect, it } from "vitest";
import { PulsarAdmin, PulsarClientError } from "../src/index.ts";
import { newAdmin, newClient, uniqueName, uniqueTopic } from "./helpers.ts";

const client = newClient();
const admin = newAdmin();
afterAll(() => client.close());

const userRecord = {
  type: "record",
  name: "User",
  namespace: "test",
  fields: [
    { name: "name", type: "string" },
    { name: "age", type: "int" },
  ],
};

describe("schemas", () => {
  it("STRING producer registers a schema the consumer can fetch", async () => {
    const topic = uniqueTopic("schema-string");
    const producer = await client.createProducer({ topic, schema: { type: "STRING" } });
    expect(producer.schemaVersion).toBeDefined();
    const consumer = await client.subscribe({
      topic,
      subscription: "s",
      subscriptionInitialPosition: "Earliest",
      schema: { type: "STRING" },
    });
    await producer.send({ value: "text value" });
    const m = await consumer.receive(10_000);
    expect(m.data.toString()).toBe("text value");
    expect(m.schemaVersion?.equals(producer.schemaVersion!)).toBe(true);
    const schema = await client.getSchema(topic, m.schemaVersion);
    expect(schema?.type).toBe("STRING");
    await producer.close();
    await consumer.close();
  });

  for (const type of ["JSON", "AVRO"] as const) {
    it(`${type} schema is registered, versioned and enforced`, async () => {
      const topic = uniqueTopic(`schema-${type.toLowerCase()}`);
      const schema = { type, name: "User", schema: userRecord, properties: { owner: "tests" } };
      const producer = await client.createProducer({ topic, schema });
      const consumer = await client.subscribe({
        topic,
        subscription: "s",
        subscriptionInitialPosition: "Earliest",
        schema,
      });
      const value =
        type === "JSON" ? Buffer.from(JSON.stringify({ name: "ann", age: 7 })) : Buffer.from([6, 0x61, 0x6e, 0x6e, 14]);
      await producer.send({ value });
      const m = await consumer.receive(10_000);
      expect(m.data.equals(value)).toBe(true);
      const fetched = await client.getSchema(topic, m.schemaVersion);
      expect(fetched?.type).toBe(type);
      expect(JSON.parse(fetched!.schema.toString())).toMatchObject({ type: "record", name: "User" });
      expect(fetched?.properties.owner).toBe("tests");
      const latest = await client.getSchema(topic);
      expect(latest?.version?.equals(m.schemaVersion!)).toBe(true);
      // An incompatible schema is refused by the broker.
      await expect(
        client.createProducer({ topic, schema: { type: "STRING" }, producerName: uniqueName("bad") }),
      ).rejects.toMatchObject({ code: "INCOMPATIBLE_SCHEMA" });
      await producer.close();
      await consumer.close();
    });
  }

  it("a topic without a schema reports none", async () => {
    const topic = uniqueTopic("schema-none");
    const producer = await client.createProducer({ topic });
    expect(await client.getSchema(topic)).toBeUndefined();
    await producer.close();
  });
});

describe("admin", () => {
  it("namespaces, deduplication, partitioned topics, stats, subscriptions, unload, delete", async () => {
    const ns = `public/${uniqueName("admin")}`;
    await admin.createNamespace(ns);
    await admin.createNamespace(ns, { ifNotExists: true });
    await expect(admin.createNamespace(ns)).rejects.toMatchObject({ code: "ADMIN", httpStatus: 409 });
    expect(await admin.getNamespaces("public")).toContain(ns);
    expect(await admin.getDeduplication(ns)).toBe(false);
    await admin.setDeduplication(ns, true);
    expect(await admin.getDeduplication(ns)).toBe(true);

    const topic = `persistent://${ns}/parts`;
    await admin.createPartitionedTopic(topic, 3);
    expect(await admin.getPartitionedTopicMetadata(topic)).toEqual(expect.objectContaining({ partitions: 3 }));
    expect(await client.getPartitionsForTopic(topic)).toBe(3);
    const consumer = await client.subscribe({ topic, subscription: "sub-a", subscriptionType: "Shared" });
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await Promise.all(Array.from({ length: 9 }, (_, i) => producer.send({ value: Buffer.from(String(i)) })));
    const stats = (await admin.getTopicStats(topic)) as {
      msgInCounter: number;
      subscriptions: Record<string, unknown>;
    };
    expect(stats.msgInCounter).toBe(9);
    expect(Object.keys(stats.subscriptions)).toEqual(["sub-a"]);
    expect(await admin.getSubscriptions(`${topic}-partition-0`)).toEqual(["sub-a"]);
    await admin.unloadTopic(`${topic}-partition-1`);
    await producer.send({ value: Buffer.from("after unload") });
    await producer.close();
    await consumer.close();
    await admin.deleteTopic(topic, { force: true });
    expect(await admin.getPartitionedTopics(ns)).toEqual([]);
    await admin.deleteNamespace(ns, { force: true });
  });

  it("bad admin input gives coded errors", async () => {
    expect(() => new PulsarAdmin({ serviceUrl: "not a url" })).toThrow(PulsarClientError);
    expect(() => new PulsarAdmin({ serviceUrl: "pulsar://127.0.0.1:6650" })).toThrow(
      expect.objectContaining({ code: "INVALID_URL" }),
    );
    await expect(admin.getTopicStats(uniqueTopic("missing"))).rejects.toMatchObject({ code: "ADMIN", httpStatus: 404 });
    const down = new PulsarAdmin({ serviceUrl: "http://127.0.0.1:1" });
    await expect(down.getTenants()).rejects.toMatchObject({ code: "CONNECTION_FAILED" });
  });
});
