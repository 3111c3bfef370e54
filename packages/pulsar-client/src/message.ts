import type { MessageId } from "./message-id.ts";

/** A message handed to the application by a consumer or reader. */
export class Message {
  readonly topic: string;
  readonly data: Buffer;
  readonly key: string | undefined;
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
}
