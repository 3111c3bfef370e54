import {
  ConnectorError,
  type Logger,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import { clientIdFor, mqttClientOptions, toMqttError } from "@pulsar-connect/mqtt-common";
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from "mqtt";
import type { MqttSourceConfig } from "../definition.ts";

/** How long an empty `read` waits for a message before it returns no records. */
const IDLE_READ_MS = 500;
const ONE_WEEK_SEC = 7 * 24 * 3600;

/** Record properties of a message: its topic, and its MQTT 5 user properties. */
export function messageProperties(topic: string, packet: IPublishPacket): Record<string, string> {
  const properties: Record<string, string> = { "mqtt.topic": topic };
  for (const [name, value] of Object.entries(packet.properties?.userProperties ?? {})) {
    properties[name] = Array.isArray(value) ? value.join(",") : String(value);
  }
  return properties;
}

type SendPacket = (packet: Packet, callback?: () => void, ...rest: unknown[]) => void;

/**
 * The acknowledgement of a QoS 1 message (PUBACK) or the first one of a QoS 2 message (PUBREC) is held back until the
 * runtime acks the record, after the Pulsar receipt: until then the broker keeps the message in the persistent
 * session and delivers it again after a reconnect. mqtt.js sends these packets itself once a message is handled; the
 * source takes them over in the client's packet sender, letting mqtt.js go on with the next packets meanwhile (the
 * broker bounds how many messages are unacknowledged at once). A failed record makes the client reconnect, which
 * brings it (and every unacknowledged message) back.
 */
export class MqttSource implements SourceInstance {
  private readonly config: MqttSourceConfig;
  private readonly logger: Logger;
  private client: MqttClient | undefined;
  private buffer: Array<{ record: SourceRecord; generation: number }> = [];
  /** Counts connections: an acknowledgement for an earlier one must not be sent on the current one. */
  private generation = 1;
  /** Per packet id of the current connection: the held-back acknowledgement, or that the record was acked first. */
  private readonly held = new Map<number, { send?: () => void; acked?: boolean }>();
  private lastError = "";
  private wake: (() => void) | undefined;
  /** Set when the broker refused a subscription: reads fail with it. */
  private refusal: ConnectorError | undefined;

  private constructor(config: MqttSourceConfig, context: SourceContext) {
    this.config = config;
    this.logger = context.logger;
  }

  static async open(config: MqttSourceConfig, context: SourceContext): Promise<MqttSource> {
    const source = new MqttSource(config, context);
    const clientId = clientIdFor([
      "pulsar-connect",
      context.tenant,
      context.namespace,
      context.name,
      context.instanceId,
    ]);
    const client = mqtt.connect(config.brokerUrl, {
      ...mqttClientOptions(config, clientId),
      clean: config.cleanSession,
      ...(config.protocolVersion === 5 && !config.cleanSession
        ? { properties: { sessionExpiryInterval: config.sessionExpirySec ?? ONE_WEEK_SEC } }
        : {}),
    });
    source.client = client;
    source.holdAcknowledgements(client);
    client.on("packetreceive", (packet) => {
      if (packet.cmd === "publish") source.take(packet);
    });
    client.on("connect", () => {
      source.lastError = "";
    });
    client.on("close", () => {
      // Acknowledgements held for this connection are void: the broker delivers those messages again.
      source.generation += 1;
      source.held.clear();
      source.lastError ||= "connection closed";
    });
    client.on("error", (error) => {
      source.lastError = error.message;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve());
        client.once("error", reject);
      });
    } catch (error) {
      client.end(true);
      throw toMqttError(error, `cannot connect to MQTT broker ${config.brokerUrl}`);
    }
    const topics = config.topics.split(",").map((topic) => topic.trim());
    client.subscribe(topics, { qos: config.qos }, (error, granted) => {
      const refused = (granted ?? []).filter((grant) => grant.qos === 128).map((grant) => grant.topic);
      if (refused.length > 0) {
        source.refusal = new ConnectorError(
          "AUTH_FAILED",
          `the broker refused the subscription to ${refused.join(", ")}`,
          {
            retryable: false,
          },
        );
      } else if (error && client.connected) {
        source.logger.warn({ err: error.message }, "MQTT subscribe failed; resubscribing on the next connection");
      }
    });
    return source;
  }

  /** Wraps the client's packet sender: PUBACK and PUBREC wait for the record's ack; mqtt.js goes on at once. */
  private holdAcknowledgements(client: MqttClient): void {
    const target = client as unknown as { _sendPacket: SendPacket };
    const send = target._sendPacket.bind(client);
    target._sendPacket = (packet, callback, ...rest) => {
      const id = (packet as { messageId?: number }).messageId;
      if ((packet.cmd !== "puback" && packet.cmd !== "pubrec") || id === undefined) {
        send(packet, callback, ...rest);
        return;
      }
      const entry = this.held.get(id);
      if (entry?.acked) {
        this.held.delete(id);
        send(packet, callback, ...rest);
        return;
      }
      this.held.set(id, { send: () => send(packet, () => {}, ...rest) });
      callback?.();
    };
  }

  private take(packet: IPublishPacket): void {
    const topic = packet.topic.toString();
    const record: SourceRecord = {
      value: new Uint8Array(packet.payload as Buffer),
      properties: messageProperties(topic, packet),
    };
    const id = packet.messageId;
    if (packet.qos > 0 && id !== undefined) {
      const generation = this.generation;
      let settled = false;
      record.ack = () => {
        if (settled || generation !== this.generation) return;
        settled = true;
        const entry = this.held.get(id);
        if (entry?.send) {
          this.held.delete(id);
          entry.send();
        } else {
          this.held.set(id, { acked: true });
        }
      };
      record.fail = () => {
        if (settled || generation !== this.generation) return;
        settled = true;
        this.logger.warn({ topic }, "a record could not be stored; reconnecting so the broker delivers it again");
        this.client?.end(true, () => this.client?.reconnect());
      };
    }
    this.buffer.push({ record, generation: this.generation });
    this.wake?.();
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[]> {
    if (this.refusal) throw this.refusal;
    if (!this.client?.connected) {
      this.buffer = [];
      throw new ConnectorError(
        "CONNECTION_FAILED",
        `not connected to MQTT broker ${this.config.brokerUrl} (${this.lastError || "reconnecting"})`,
        { retryable: true },
      );
    }
    // Messages of a closed connection come again on the current one.
    this.buffer = this.buffer.filter((entry) => entry.generation === this.generation || entry.record.ack === undefined);
    if (this.buffer.length === 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, IDLE_READ_MS);
        signal.addEventListener("abort", done);
        this.wake = done;
      });
    }
    return this.buffer.splice(0, maxRecords).map((entry) => entry.record);
  }

  async close(): Promise<void> {
    this.wake?.();
    this.buffer = [];
    // Unacknowledged messages stay with the broker (persistent session) for the next opening.
    await this.client?.endAsync(false).catch(() => {});
  }
}
