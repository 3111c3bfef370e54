import type { MessageId } from "./message-id.ts";

/** A message handed to the application by a consumer or reader. */
export class Message {
  readonly topic: string;
  readonly data: Buffer;
  readonly key: string | undefined;
  /** True when `key` is the base64 form of binary key bytes (KeyValue schemas with SEPARATED encoding). */
  readonly hasBase64EncodedKey: boolean;
  readonly orderingKey: Buffer | undefined;
  readonly properties: Record<string, string>;
  /** Milliseconds since the epoch, when the producer set one. */
  readonly eventTime: number | undefined;
  /** Milliseconds since the epoch. */
  readonly publishTime: number;
  readonly messageId: MessageId;
  readonly redeliveryCount: number;
  readonly sequenceId: bigint;
  readonly producerName: string;
  readonly schemaVersion: Buffer | undefined;
  /** @internal consumer-side bookkeeping */
  readonly _ownerId: number;

  constructor(init: {
    topic: string;
    data: Buffer;
    key: string | undefined;
    hasBase64EncodedKey?: boolean;
    orderingKey: Buffer | undefined;
    properties: Record<string, string>;
    eventTime: number | undefined;
    publishTime: number;
    messageId: MessageId;
    redeliveryCount: number;
    sequenceId: bigint;
    producerName: string;
    schemaVersion: Buffer | undefined;
    ownerId: number;
  }) {
    this.topic = init.topic;
    this.data = init.data;
    this.key = init.key;
    this.hasBase64EncodedKey = init.hasBase64EncodedKey ?? false;
    this.orderingKey = init.orderingKey;
    this.properties = init.properties;
    this.eventTime = init.eventTime;
    this.publishTime = init.publishTime;
    this.messageId = init.messageId;
    this.redeliveryCount = init.redeliveryCount;
    this.sequenceId = init.sequenceId;
    this.producerName = init.producerName;
    this.schemaVersion = init.schemaVersion;
    this._ownerId = init.ownerId;
  }

  /** The key as bytes: decoded from base64 when the producer sent binary key bytes. */
  get keyBytes(): Buffer | undefined {
    if (this.key === undefined) return undefined;
    return this.hasBase64EncodedKey ? Buffer.from(this.key, "base64") : Buffer.from(this.key, "utf8");
  }
}
