import type { RecordSchema } from "@pulsar-connect/core/host";
import type { TopicSchema } from "@pulsar-connect/pulsar-client";
import { keyValueRecordSchema } from "./client-options.ts";

/** Marks a schema not known yet (undefined means "no schema"). */
export const UNKNOWN_SCHEMA: unique symbol = Symbol("unknown schema");

/** The client's schema lookup by version: undefined when the registry does not know the version. */
export type SchemaLookup = (topic: string, version: Uint8Array) => Promise<TopicSchema | undefined>;

/**
 * The schema of the last schema version seen per topic, so that the messages after it are decoded without a lookup.
 * A version the registry did not find is not remembered (the client does not cache it either): the next message of
 * that version asks again rather than being decoded without a schema until a restart.
 */
export class VersionSchemas {
  private readonly lookup: SchemaLookup;
  private readonly last = new Map<string, { version: Uint8Array; schema: RecordSchema | undefined }>();

  constructor(lookup: SchemaLookup) {
    this.lookup = lookup;
  }

  /** The schema of `version` on `topic` when it is known without a lookup, else {@link UNKNOWN_SCHEMA}. */
  known(topic: string, version: Uint8Array): RecordSchema | undefined | typeof UNKNOWN_SCHEMA {
    const last = this.last.get(topic);
    return last !== undefined && sameBytes(last.version, version) ? last.schema : UNKNOWN_SCHEMA;
  }

  /** Looks the schema of `version` up; undefined for no schema (BYTES, a type records do not decode, not found). */
  async resolve(topic: string, version: Uint8Array): Promise<RecordSchema | undefined> {
    const info = await this.lookup(topic, version);
    if (info === undefined) return undefined;
    const schema = recordSchemaOf(info);
    this.last.set(topic, { version: Uint8Array.from(version), schema });
    return schema;
  }
}

function recordSchemaOf(info: TopicSchema): RecordSchema | undefined {
  if (info.type === "KEY_VALUE") return keyValueRecordSchema(info.schema, info.properties);
  if (info.type === "STRING" || info.type === "JSON" || info.type === "AVRO" || info.type === "BYTES") {
    const schema: RecordSchema = { type: info.type };
    if (info.schema.length > 0) schema.definition = info.schema.toString("utf8");
    return schema;
  }
  return undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
