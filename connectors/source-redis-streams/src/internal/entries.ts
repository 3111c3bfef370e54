import { ConnectorError, type SourceRecord } from "@pulsar-connect/core";

/** One stream entry as Redis returns it: its id and its field/value list (null when the entry was deleted). */
export type StreamEntry = [id: Buffer, fields: Buffer[] | null];

/**
 * The Pulsar sequence of a stream id `<ms>-<seq>`: ms * 2^20 + seq, increasing with the id. Fits a signed 64-bit
 * sequence id for ids up to the year 2248; a seq of 2^20 or more (a million entries in one millisecond) or a later
 * time is refused rather than given a sequence out of order.
 */
export function streamSequence(id: string): bigint {
  const match = /^(\d+)-(\d+)$/.exec(id);
  if (!match) throw new ConnectorError("INVALID_RECORD", `not a stream id: ${id}`, { retryable: false });
  const seq = BigInt(match[2] as string);
  const ms = BigInt(match[1] as string);
  if (seq >= 1n << 20n || ms >= 1n << 43n) {
    throw new ConnectorError("INVALID_RECORD", `stream id ${id}: too large for a Pulsar sequence`, {
      retryable: false,
    });
  }
  return (ms << 20n) + seq;
}

export interface RecordShape {
  streamKey: string;
  valueField?: string | undefined;
  keyField?: string | undefined;
}

/** The record of a stream entry (without its ack/fail callbacks). */
export function entryRecord(id: string, fields: Buffer[], shape: RecordShape): SourceRecord {
  const pairs = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2)
    pairs.set((fields[i] as Buffer).toString("utf8"), fields[i + 1] as Buffer);
  const properties: Record<string, string> = { "redis.streamId": id };
  let value: unknown;
  if (shape.valueField !== undefined) {
    const bytes = pairs.get(shape.valueField);
    value = bytes === undefined ? new Uint8Array(0) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const [name, bytes] of pairs) if (name !== shape.valueField) properties[name] = bytes.toString("utf8");
  } else {
    value = Object.fromEntries([...pairs].map(([name, bytes]) => [name, bytes.toString("utf8")]));
  }
  const record: SourceRecord = {
    value,
    properties,
    partitionId: `redis-stream:${shape.streamKey}`,
    sequence: streamSequence(id),
    eventTime: Number(id.split("-")[0]),
  };
  if (shape.keyField !== undefined) {
    const key = pairs.get(shape.keyField);
    if (key !== undefined) record.key = key.toString("utf8");
  }
  return record;
}
