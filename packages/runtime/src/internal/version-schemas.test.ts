import type { TopicSchema } from "@pulsar-connect/pulsar-client";
import { describe, expect, it } from "vitest";
import { UNKNOWN_SCHEMA, VersionSchemas } from "./version-schemas.ts";

const TOPIC = "persistent://public/default/orders";
const VERSION = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 3);
const JSON_SCHEMA: TopicSchema = {
  type: "JSON",
  name: "orders",
  schema: Buffer.from('{"type":"record","name":"Order","fields":[]}'),
  properties: {},
  version: Buffer.from(VERSION),
};

/** A fake client lookup (no registry needed to answer "not found" first): answers from a list, counts the calls. */
function lookupAnswering(...answers: Array<TopicSchema | undefined>) {
  const calls: string[] = [];
  const lookup = async (topic: string) => {
    calls.push(topic);
    return answers.shift();
  };
  return { lookup, calls };
}

describe("VersionSchemas", () => {
  it("does not remember a version the registry did not find: the next message of it asks again", async () => {
    const { lookup, calls } = lookupAnswering(undefined, JSON_SCHEMA);
    const schemas = new VersionSchemas(lookup);
    expect(await schemas.resolve(TOPIC, VERSION)).toBeUndefined();
    expect(schemas.known(TOPIC, VERSION)).toBe(UNKNOWN_SCHEMA);
    expect(await schemas.resolve(TOPIC, VERSION)).toEqual({ type: "JSON", definition: JSON_SCHEMA.schema.toString() });
    expect(calls).toHaveLength(2);
  });

  it("remembers a found version, and a schema-less one, so that later messages of it need no lookup", async () => {
    const { lookup } = lookupAnswering(JSON_SCHEMA, { ...JSON_SCHEMA, type: "NONE" });
    const schemas = new VersionSchemas(lookup);
    await schemas.resolve(TOPIC, VERSION);
    expect(schemas.known(TOPIC, VERSION)).toEqual({ type: "JSON", definition: JSON_SCHEMA.schema.toString() });
    expect(schemas.known(TOPIC, Uint8Array.of(4))).toBe(UNKNOWN_SCHEMA);
    const other = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 4);
    expect(await schemas.resolve(TOPIC, other)).toBeUndefined();
    expect(schemas.known(TOPIC, other)).toBeUndefined();
  });
});
