import {
  ConnectorError,
  type RecordFailure,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import { clientIdFor, mqttClientOptions, toMqttError } from "@pulsar-connect/mqtt-common";
import mqtt, { type IClientPublishOptions, type MqttClient } from "mqtt";
import type { MqttSinkConfig } from "../definition.ts";

/** Publish options of a record: MQTT 5 carries its properties as user properties and its key as `pulsar-key`. */
export function publishOptions(
  record: SinkRecord,
  config: Pick<MqttSinkConfig, "qos" | "retain" | "protocolVersion">,
): IClientPublishOptions {
  const options: IClientPublishOptions = { qos: config.qos, retain: config.retain };
  if (config.protocolVersion === 5) {
    const userProperties: Record<string, string> = { ...record.properties };
    if (record.key !== undefined) userProperties["pulsar-key"] = record.key;
    if (Object.keys(userProperties).length > 0) options.properties = { userProperties };
  }
  return options;
}

/**
 * Publishes with the configured QoS; a write resolves when the broker acknowledged every message (PUBACK for QoS 1,
 * PUBCOMP for QoS 2; QoS 0 once written to the socket). While disconnected writes fail at once, so the runtime's
 * retries and status say why instead of messages piling up in the client.
 */
export class MqttSink implements SinkInstance {
  private readonly config: MqttSinkConfig;
  private readonly client: MqttClient;
  private lastError = "not connected yet";

  private constructor(config: MqttSinkConfig, client: MqttClient) {
    this.config = config;
    this.client = client;
    client.on("error", (error) => {
      this.lastError = error.message;
    });
    client.on("close", () => {
      this.lastError ||= "connection closed";
    });
    client.on("connect", () => {
      this.lastError = "";
    });
  }

  static async open(config: MqttSinkConfig, context: SinkContext): Promise<MqttSink> {
    const clientId = clientIdFor([
      "pulsar-connect",
      context.tenant,
      context.namespace,
      context.name,
      context.instanceId,
    ]);
    try {
      const client = await mqtt.connectAsync(config.brokerUrl, {
        ...mqttClientOptions(config, clientId),
        clean: true,
        queueQoSZero: false,
      });
      return new MqttSink(config, client);
    } catch (error) {
      throw toMqttError(error, `cannot connect to MQTT broker ${config.brokerUrl}`);
    }
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    if (!this.client.connected) {
      throw new ConnectorError(
        "CONNECTION_FAILED",
        `not connected to MQTT broker ${this.config.brokerUrl} (${this.lastError || "reconnecting"})`,
        { retryable: true },
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no acknowledgement within ${this.config.publishTimeoutMs} ms`)),
        this.config.publishTimeoutMs,
      );
    });
    timeout.catch(() => {});
    const failed: RecordFailure[] = [];
    try {
      const outcomes = await Promise.race([
        Promise.allSettled(
          records.map((record) =>
            this.client.publishAsync(
              this.config.topic,
              Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength),
              publishOptions(record, this.config),
            ),
          ),
        ),
        timeout,
      ]);
      outcomes.forEach((outcome, index) => {
        if (outcome.status === "rejected") {
          failed.push({ index, error: toMqttError(outcome.reason, `publish to ${this.config.topic} failed`) });
        }
      });
    } catch (error) {
      throw toMqttError(error, `publish to ${this.config.topic} on ${this.config.brokerUrl} failed`);
    } finally {
      clearTimeout(timer);
    }
    if (failed.length === 0) return;
    if (failed.length === records.length) throw failed[0]?.error;
    return { failed };
  }

  async close(): Promise<void> {
    await this.client.endAsync().catch(() => this.client.end(true));
  }
}
