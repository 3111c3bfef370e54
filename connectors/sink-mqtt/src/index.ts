import { ConnectorError, defineSink, type SinkDefinition, sensitive, z } from "@pulsar-connect/core";

/** The config schema type (spelled out: published declarations are not inferred). */
export type MqttConfigSchema = z.ZodObject<
  { endpoint: z.ZodString; token: z.ZodDefault<z.ZodString>; batchSize: z.ZodDefault<z.ZodNumber> },
  z.core.$strip
>;

const config: MqttConfigSchema = z.object({
  endpoint: z.string().min(1, "must not be empty").describe("Where Mqtt listens"),
  token: sensitive(z.string().default("")).describe("Access token; redacted wherever config is shown"),
  batchSize: z.number().int().positive().default(100).describe("Records per write"),
});

/** The mqtt sink. */
const mqttSink: SinkDefinition<MqttConfigSchema> = defineSink({
  name: "mqtt",
  description: "Writes records to Mqtt",
  config,
  batchSize: 100,
  async open(settings, context) {
    // Connect to settings.endpoint here. Throw a retryable ConnectorError("CONNECTION_FAILED", ...) when it is down.
    if (settings.endpoint === "unreachable") {
      throw new ConnectorError("CONNECTION_FAILED", `cannot reach ${settings.endpoint}`, { retryable: true });
    }
    return {
      async write(records) {
        // Resolve once every record is durable. Return { failed: [{ index, error }] } for single bad records
        // (a non-retryable ConnectorError("INVALID_RECORD") sends them to the dead-letter topic), and throw
        // for failures of the whole batch: the runtime acks, retries or dead-letters accordingly.
        context.recordMetric("written", records.length);
      },
      async close() {},
    };
  },
});

export default mqttSink;
