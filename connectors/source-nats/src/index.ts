import { defineSource, type SourceDefinition, type SourceRecord, z } from "@pulsar-connect/core";

/** The config schema type (spelled out: published declarations are not inferred). */
export type NatsConfigSchema = z.ZodObject<
  { message: z.ZodDefault<z.ZodString>; count: z.ZodDefault<z.ZodNumber> },
  z.core.$strip
>;

const config: NatsConfigSchema = z.object({
  message: z.string().default("hello").describe("Text of each record"),
  count: z.number().int().min(0).default(10).describe("Records to produce before the source ends (0 = unbounded)"),
});

/** The nats source. */
const natsSource: SourceDefinition<NatsConfigSchema> = defineSource({
  name: "nats",
  description: "Reads records from Nats",
  config,
  async open(settings, context) {
    // Connect to the external system here. partitionId + sequence let EFFECTIVELY_ONCE deduplicate.
    const partitionId = `nats-${context.name}-${context.instanceId}`;
    let sent = 0;
    return {
      async read({ maxRecords, signal }) {
        if (settings.count > 0 && sent >= settings.count) return null;
        if (signal.aborted) return [];
        const n = Math.min(maxRecords, settings.count > 0 ? settings.count - sent : maxRecords);
        const records: SourceRecord[] = [];
        for (let i = 0; i < n; i++, sent++) {
          records.push({ value: `${settings.message} ${sent}`, partitionId, sequence: BigInt(sent) });
        }
        return records;
      },
      async close() {},
    };
  },
});

export default natsSource;
