import type { Message, Producer, PulsarClient, Reader } from "@pulsar-connect/pulsar-client";
import { MessageId } from "@pulsar-connect/pulsar-client";
import { parseTopic, type ResolvedSinkConfig } from "@pulsar-connect/runtime";

/** The part of the Pulsar client the dead-letter views use. */
export type DeadLetterClient = Pick<PulsarClient, "createReader" | "createProducer">;

/** Properties the runtime adds when it sends a record to a dead-letter topic. */
const ERROR_PROPERTY = "__pulsar_connect_error";
const ORIGIN_TOPIC_PROPERTY = "__pulsar_connect_origin_topic";
const ORIGIN_ID_PROPERTY = "__pulsar_connect_origin_message_id";
/** Set on a replayed record: the dead-letter message it came from. */
const REPLAYED_FROM_PROPERTY = "__pulsar_connect_replayed_from";
/** How many messages of one dead-letter topic are read at most, to count them. */
export const DEAD_LETTER_COUNT_CAP = 1000;
const READ_TIMEOUT_MS = 3_000;

function qualified(topic: string, tenant: string, namespace: string): string {
  const parts = parseTopic(topic, tenant, namespace);
  return parts ? `${parts.domain}://${parts.tenant}/${parts.namespace}/${parts.local}` : topic;
}

/**
 * The dead-letter topics a sink writes to, as the runtime names them: its `deadLetterTopic`, else
 * `<input>-<subscription>-DLQ` per input topic. None when retries (and so dead-lettering) are off.
 */
export function deadLetterTopicsOf(config: ResolvedSinkConfig): string[] {
  if (!(typeof config.maxMessageRetries === "number" && config.maxMessageRetries > 0)) return [];
  if (config.deadLetterTopic) return [qualified(config.deadLetterTopic, config.tenant, config.namespace)];
  const subscription = config.sourceSubscriptionName.replaceAll("/", "-");
  return config.inputs.map(
    (input) =>
      `${qualified(input, config.tenant, config.namespace).replace(/-partition-\d+$/, "")}-${subscription}-DLQ`,
  );
}

/** One dead-lettered record, as the console shows it. */
export interface DeadLetterView {
  /** Base64 of the serialized message id: what a replay names. */
  id: string;
  publishTime: number;
  key: string | null;
  /** The value as UTF-8 text (at most 4 KiB), or base64 when it is not text. */
  value: string;
  valueEncoding: "utf8" | "base64";
  size: number;
  reason: string;
  originTopic: string | null;
  properties: Record<string, string>;
}

/** A control character other than tab, newline and carriage return: such a value is shown as base64. */
function isControl(char: string): boolean {
  const code = char.charCodeAt(0);
  return code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d;
}

function view(message: Message): DeadLetterView {
  const data = message.data;
  const text = data.toString("utf8");
  const isText = Buffer.from(text, "utf8").equals(data) && ![...text].some(isControl);
  const properties = Object.fromEntries(
    Object.entries(message.properties).filter(([key]) => !key.startsWith("__pulsar_connect_")),
  );
  return {
    id: Buffer.from(message.messageId.serialize()).toString("base64"),
    publishTime: message.publishTime,
    key: message.key ?? null,
    value: isText ? text.slice(0, 4096) : data.subarray(0, 3072).toString("base64"),
    valueEncoding: isText ? "utf8" : "base64",
    size: data.length,
    reason: message.properties[ERROR_PROPERTY] ?? "",
    originTopic: message.properties[ORIGIN_TOPIC_PROPERTY] ?? null,
    properties,
  };
}

/** Reads a topic from its start with a non-durable reader, calling `each` until it returns false or the topic ends. */
async function readAll(client: DeadLetterClient, topic: string, each: (message: Message) => boolean): Promise<void> {
  let reader: Reader;
  try {
    reader = await client.createReader({
      topic,
      startMessageId: MessageId.earliest,
      readerName: "pulsar-connect-console",
    });
  } catch (error) {
    // A dead-letter topic that was never written to does not exist yet: nothing to read.
    if (/not found|does not exist|TopicNotFound/i.test((error as Error).message)) return;
    throw error;
  }
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(READ_TIMEOUT_MS);
      if (!each(message)) return;
    }
  } finally {
    await reader.close().catch(() => {});
  }
}

/** The count (capped) and the newest `limit` records of each dead-letter topic, newest first. */
export async function peekDeadLetters(
  client: DeadLetterClient,
  topics: string[],
  limit: number,
): Promise<Array<{ topic: string; count: number; capped: boolean; messages: DeadLetterView[] }>> {
  const result = [];
  for (const topic of topics) {
    const newest: Message[] = [];
    let count = 0;
    await readAll(client, topic, (message) => {
      count += 1;
      newest.push(message);
      if (newest.length > limit) newest.shift();
      return count < DEAD_LETTER_COUNT_CAP;
    });
    result.push({ topic, count, capped: count >= DEAD_LETTER_COUNT_CAP, messages: newest.reverse().map(view) });
  }
  return result;
}

/**
 * Publishes the chosen dead-lettered records again to the topic they came from, with their key and own properties
 * (and the id of the dead-letter message they replay). The dead-letter topic keeps them: Pulsar topics are
 * append-only.
 */
export async function replayDeadLetters(
  client: DeadLetterClient,
  config: ResolvedSinkConfig,
  ids: string[],
): Promise<{ replayed: Array<{ id: string; topic: string }>; missing: string[] }> {
  const wanted = new Set(ids);
  const found = new Map<string, Message>();
  for (const topic of deadLetterTopicsOf(config)) {
    await readAll(client, topic, (message) => {
      const id = Buffer.from(message.messageId.serialize()).toString("base64");
      if (wanted.has(id)) found.set(id, message);
      return found.size < wanted.size;
    });
    if (found.size === wanted.size) break;
  }
  const inputs = new Set(config.inputs.map((input) => qualified(input, config.tenant, config.namespace)));
  const producers = new Map<string, Promise<Producer>>();
  const replayed: Array<{ id: string; topic: string }> = [];
  try {
    for (const id of ids) {
      const message = found.get(id);
      if (!message) continue;
      const origin = message.properties[ORIGIN_TOPIC_PROPERTY]?.replace(/-partition-\d+$/, "");
      // Only back to an input of this sink: the property is data anyone who can write the topic may have set.
      const topic =
        origin !== undefined && inputs.has(origin) ? origin : inputs.size === 1 ? [...inputs][0] : undefined;
      if (topic === undefined) continue;
      let producer = producers.get(topic);
      if (!producer) {
        producer = client.createProducer({ topic, batchingEnabled: false });
        producers.set(topic, producer);
      }
      const properties = Object.fromEntries(
        Object.entries(message.properties).filter(
          ([key]) => key !== ERROR_PROPERTY && key !== ORIGIN_TOPIC_PROPERTY && key !== ORIGIN_ID_PROPERTY,
        ),
      );
      properties[REPLAYED_FROM_PROPERTY] = id;
      const out: { value: Uint8Array; key?: string; properties: Record<string, string> } = {
        value: message.data,
        properties,
      };
      if (message.key !== undefined) out.key = message.key;
      await (await producer).send(out);
      replayed.push({ id, topic });
    }
  } finally {
    for (const producer of producers.values()) await producer.then((p) => p.close()).catch(() => {});
  }
  return { replayed, missing: ids.filter((id) => !replayed.some((entry) => entry.id === id)) };
}
