import { PulsarClientError } from "./errors.ts";
import { decode, encode } from "./internal/protobuf.ts";
import { MessageIdData, type MessageIdDataPb } from "./internal/schema.ts";

const MAX_I64 = 0x7fffffffffffffffn;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Two tags and 8-byte varints for ledger and entry, three tags and 5-byte varints for the 32-bit fields. */
const MAX_SERIALIZED = 2 * (1 + 8) + 3 * (1 + 5);

/** Writes a non-negative safe integer as a protobuf varint at `at`; returns the offset after it. */
function writeVarint(out: Buffer, at: number, value: number): number {
  let rest = value;
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[at++] = rest;
  return at;
}

/** Position of a message: ledger, entry, partition and index inside a batch. Ordered by (ledger, entry, batch). */
export class MessageId {
  readonly ledgerId: bigint;
  readonly entryId: bigint;
  readonly partition: number;
  readonly batchIndex: number;
  readonly batchSize: number | undefined;
  /** Topic the id belongs to when it came from a consumer or producer of this client (not serialized). */
  readonly topic: string | undefined;
  /**
   * The outstanding batch indexes of the delivery this id was handed out with (see BatchAcks): a field rather than a
   * WeakMap entry, which costs several times more per received message; private, so that it is no part of the id's
   * value (keys, inspection, equality).
   */
  #delivery: Set<number> | undefined = undefined;

  constructor(ledgerId: bigint, entryId: bigint, partition = -1, batchIndex = -1, batchSize?: number, topic?: string) {
    this.ledgerId = ledgerId;
    this.entryId = entryId;
    this.partition = partition;
    this.batchIndex = batchIndex;
    this.batchSize = batchSize;
    this.topic = topic;
  }

  /** @internal The delivery this id was handed out with (see BatchAcks). */
  get _delivery(): Set<number> | undefined {
    return this.#delivery;
  }

  /** @internal */
  set _delivery(delivery: Set<number> | undefined) {
    this.#delivery = delivery;
  }

  /** The position before the first message of a topic. */
  static readonly earliest: MessageId = new MessageId(-1n, -1n, -1, -1);
  /** The position after the last message of a topic. */
  static readonly latest: MessageId = new MessageId(MAX_I64, MAX_I64, -1, -1);

  /** Protobuf MessageIdData bytes, compatible with the Java client's MessageId.toByteArray. */
  serialize(): Buffer {
    const { ledgerId, entryId } = this;
    if (ledgerId < 0n || entryId < 0n || ledgerId > MAX_SAFE || entryId > MAX_SAFE) {
      return encode(MessageIdData, this.toData());
    }
    // The fields of toData(), written directly: this runs once per message a sink receives.
    const out = Buffer.allocUnsafe(MAX_SERIALIZED);
    out[0] = 0x08;
    let at = writeVarint(out, 1, Number(ledgerId));
    out[at] = 0x10;
    at = writeVarint(out, at + 1, Number(entryId));
    if (this.partition >= 0) {
      out[at] = 0x18;
      at = writeVarint(out, at + 1, this.partition);
    }
    if (this.batchIndex >= 0) {
      out[at] = 0x20;
      at = writeVarint(out, at + 1, this.batchIndex);
    }
    if (this.batchSize !== undefined && this.batchSize > 0) {
      out[at] = 0x30;
      at = writeVarint(out, at + 1, this.batchSize);
    }
    return out.subarray(0, at);
  }

  static deserialize(buf: Uint8Array): MessageId {
    let data: MessageIdDataPb;
    try {
      data = decode(MessageIdData, buf);
    } catch (err) {
      throw new PulsarClientError("PROTOCOL", "cannot deserialize message id", { cause: err });
    }
    if (data.ledgerId === undefined || data.entryId === undefined) {
      throw new PulsarClientError("PROTOCOL", "serialized message id lacks ledger or entry id");
    }
    return MessageId.fromData(data);
  }

  /** @internal */
  static fromData(data: MessageIdDataPb, topic?: string, partition?: number): MessageId {
    return new MessageId(
      data.ledgerId ?? -1n,
      data.entryId ?? -1n,
      partition ?? data.partition ?? -1,
      data.batchIndex ?? -1,
      data.batchSize,
      topic,
    );
  }

  /** @internal */
  toData(): MessageIdDataPb {
    const data: MessageIdDataPb = { ledgerId: this.ledgerId, entryId: this.entryId };
    if (this.partition >= 0) data.partition = this.partition;
    if (this.batchIndex >= 0) data.batchIndex = this.batchIndex;
    if (this.batchSize !== undefined && this.batchSize > 0) data.batchSize = this.batchSize;
    return data;
  }

  /** @internal Same entry, tagged with a topic. */
  withTopic(topic: string): MessageId {
    return new MessageId(this.ledgerId, this.entryId, this.partition, this.batchIndex, this.batchSize, topic);
  }

  compareTo(other: MessageId): number {
    if (this.ledgerId !== other.ledgerId) return this.ledgerId < other.ledgerId ? -1 : 1;
    if (this.entryId !== other.entryId) return this.entryId < other.entryId ? -1 : 1;
    if (this.batchIndex !== other.batchIndex) return this.batchIndex < other.batchIndex ? -1 : 1;
    return 0;
  }

  equals(other: MessageId): boolean {
    return this.compareTo(other) === 0 && this.partition === other.partition;
  }

  toString(): string {
    return `${this.ledgerId}:${this.entryId}:${this.partition}:${this.batchIndex}`;
  }
}
