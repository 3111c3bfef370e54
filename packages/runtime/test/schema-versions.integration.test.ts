// A sink gets every message decoded with the schema version it was written with: an Avro schema that gains a field
// and then loses one is read whole, with nothing dead-lettered.
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import avro from "avsc";
import { afterAll, describe, expect, it } from "vitest";
import type { SinkInstanceStatusData } from "../src/index.ts";
import { memorySinkInstance } from "./helpers.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const client = new PulsarClient({ serviceUrl: SERVICE_URL });
afterAll(() => client.close());

const id = { name: "id", type: "long" };
const name = { name: "name", type: "string", default: "" };
const email = { name: "email", type: ["null", "string"], default: null };
const VERSIONS = [
  { type: "record", name: "User", fields: [id, name] },
  { type: "record", name: "User", fields: [id, name, email] },
  { type: "record", name: "User", fields: [id, email] },
];
const VALUES = [
  { id: 0, name: "name-0" },
  { id: 1, name: "name-1", email: "user1@example.com" },
  { id: 2, email: "user2@example.com" },
];

describe("schema versions in a sink", () => {
  it("decodes each message with its writer's Avro schema (field added, then removed); nothing dead-lettered", async () => {
    const topic = `persistent://public/default/avro-versions-${Date.now().toString(36)}`;
    for (const [v, definition] of VERSIONS.entries()) {
      const producer = await client.createProducer({
        topic,
        batchingEnabled: false,
        schema: { type: "AVRO", name: "User", schema: JSON.stringify(definition) },
      });
      const type = avro.Type.forSchema(definition as avro.Schema);
      // Each version twice, so versions interleave with what the sink already decoded.
      for (let n = 0; n < 2; n++) await producer.send({ value: type.toBuffer(VALUES[v]), key: `v${v}` });
      await producer.close();
    }

    const { written, instance } = memorySinkInstance({
      name: `avro-versions-${Date.now().toString(36)}`,
      topic,
      client,
      adminUrl: ADMIN_URL,
    });
    await instance.start();
    try {
      const deadline = Date.now() + 20_000;
      while (written.length < 6 && Date.now() < deadline && (instance.status() as SinkInstanceStatusData).running) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const status = instance.status() as SinkInstanceStatusData;
      expect({
        running: status.running,
        exceptions: status.numSinkExceptions,
        system: status.numSystemExceptions,
      }).toEqual({ running: true, exceptions: 0, system: 0 });
      expect(written.map((r) => [r.key, r.value])).toEqual(
        VALUES.flatMap((value, v) => [
          [`v${v}`, { email: null, ...value }],
          [`v${v}`, { email: null, ...value }],
        ]).map(([key, value]) => {
          const fields = VERSIONS[Number(String(key).slice(1))]!.fields.map((f) => f.name);
          return [key, Object.fromEntries(fields.map((f) => [f, (value as Record<string, unknown>)[f]]))];
        }),
      );
      expect(written.map((r) => JSON.parse(r.schema?.definition ?? "{}").fields.length)).toEqual([2, 2, 3, 3, 2, 2]);
    } finally {
      await instance.stop();
    }
  });
});
