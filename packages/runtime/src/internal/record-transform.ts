import {
  ConnectorError,
  type FunctionContext,
  type FunctionDefinition,
  type FunctionRecord,
  type RecordSchema,
  type SinkRecord,
} from "@pulsar-connect/core/host";
import { encodeValue } from "./codec.ts";

/** A sink's transform function with its validated config, applied to each record before the sink sees it. */
export class RecordTransform {
  private readonly definition: FunctionDefinition;
  private readonly config: Record<string, unknown>;
  private readonly context: FunctionContext;
  private readonly sinkName: string;
  private readonly routesByDestination: boolean;

  constructor(options: {
    definition: FunctionDefinition;
    config: Record<string, unknown>;
    context: FunctionContext;
    sinkName: string;
    routesByDestination: boolean;
  }) {
    this.definition = options.definition;
    this.config = options.config;
    this.context = options.context;
    this.sinkName = options.sinkName;
    this.routesByDestination = options.routesByDestination;
  }

  /**
   * The record the sink is to write, or undefined when the function dropped it. A function that throws (or returns
   * something that is not a record) fails that record: the error is non-retryable, so the guarantee settles it
   * (dead-letter topic, redelivery or failing the instance) like a record the sink refused.
   */
  async apply(record: SinkRecord): Promise<SinkRecord | undefined> {
    const input: FunctionRecord = {
      value: record.value,
      properties: { ...record.properties },
      topicName: record.topicName,
      ...(record.eventTime === undefined ? {} : { eventTime: record.eventTime }),
    };
    if (record.key !== undefined) input.key = record.key;
    if (record.schema !== undefined) input.schema = record.schema;
    let output: unknown;
    try {
      output = await this.definition.process(input, this.config, this.context);
    } catch (error) {
      throw new ConnectorError(
        "INVALID_RECORD",
        `transform function '${this.definition.name}' failed: ${(error as Error)?.message ?? String(error)}`,
        { cause: error, retryable: false },
      );
    }
    if (output === null || output === undefined) return undefined;
    if (typeof output !== "object" || !("value" in output)) {
      throw new ConnectorError(
        "INVALID_RECORD",
        `transform function '${this.definition.name}' returned ${typeof output}, not a record (return null to drop it)`,
        { retryable: false },
      );
    }
    return this.toSinkRecord(record, input.schema, output as FunctionRecord);
  }

  private toSinkRecord(
    original: SinkRecord,
    inputSchema: RecordSchema | undefined,
    output: FunctionRecord,
  ): SinkRecord {
    const destination = output.destinationTopic;
    if (destination !== undefined && destination !== "" && !this.routesByDestination) {
      throw new ConnectorError(
        "INVALID_RECORD",
        `transform function '${this.definition.name}' set destinationTopic '${destination}', but the ${this.sinkName} sink writes only to its configured destination`,
        { retryable: false },
      );
    }
    // A schema the function set describes its value; the input's may no longer (fields dropped or renamed).
    const schema =
      output.schema !== undefined && output.schema !== inputSchema ? output.schema : schemaOf(output.value);
    const result: SinkRecord = {
      ...original,
      value: output.value,
      data: encodeValue(output.value, schema),
      properties: { ...(output.properties ?? {}) },
      schema,
    };
    if (output.key === undefined || output.key === null) delete result.key;
    else result.key = String(output.key);
    if (destination !== undefined && destination !== "") result.destinationTopic = destination;
    return result;
  }
}

/** The schema a transformed value is passed on with when the function set none. */
function schemaOf(value: unknown): RecordSchema {
  if (value instanceof Uint8Array) return { type: "BYTES" };
  if (typeof value === "string") return { type: "STRING" };
  return { type: "JSON" };
}
