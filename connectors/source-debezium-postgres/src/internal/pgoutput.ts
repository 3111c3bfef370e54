/**
 * Decoder of the `pgoutput` logical decoding messages (protocol version 1, the one every supported server speaks):
 * Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate and Message. Column values arrive in text
 * form; `null` and unchanged-TOAST markers are kept apart.
 */
import type { Lsn } from "./lsn.ts";

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeModifier: number;
  /** Part of the replica identity (the key Debezium puts in the record key). */
  isKey: boolean;
}

export interface Relation {
  relationId: number;
  schema: string;
  table: string;
  /** d = default, n = nothing, f = full, i = index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** One column of a tuple: text value, SQL NULL, or a TOASTed value the update did not change (not sent). */
export type TupleValue = { kind: "text"; text: string } | { kind: "null" } | { kind: "unchanged" };

export type PgOutputMessage =
  | { tag: "begin"; finalLsn: Lsn; commitTime: bigint; xid: number }
  | { tag: "commit"; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  | { tag: "origin"; originLsn: Lsn; name: string }
  | { tag: "relation"; relation: Relation }
  | { tag: "type"; typeOid: number; schema: string; name: string }
  | { tag: "insert"; relationId: number; newTuple: TupleValue[] }
  | {
      tag: "update";
      relationId: number;
      /** Old values: only the key columns ('K') or every column under REPLICA IDENTITY FULL ('O'). */
      oldTuple: TupleValue[] | undefined;
      oldKind: "key" | "old" | undefined;
      newTuple: TupleValue[];
    }
  | { tag: "delete"; relationId: number; oldTuple: TupleValue[]; oldKind: "key" | "old" }
  | { tag: "truncate"; options: number; relationIds: number[] }
  | { tag: "message"; transactional: boolean; lsn: Lsn; prefix: string; content: Uint8Array };

/** Microseconds since 2000-01-01 (PostgreSQL epoch) to milliseconds since 1970-01-01. */
export function pgTimeToUnixMs(pgMicros: bigint): number {
  return Number(pgMicros / 1000n) + 946_684_800_000;
}

class Reader {
  private offset = 0;
  private readonly buffer: Buffer;
  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }
  u8(): number {
    const value = this.buffer.readUInt8(this.offset);
    this.offset += 1;
    return value;
  }
  i16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  i32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  u32(): number {
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  u64(): bigint {
    const value = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  i64(): bigint {
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new Error("pgoutput: unterminated string");
    const text = this.buffer.toString("utf8", this.offset, end);
    this.offset = end + 1;
    return text;
  }
  bytes(length: number): Buffer {
    const slice = this.buffer.subarray(this.offset, this.offset + length);
    if (slice.length !== length) throw new Error("pgoutput: message ends early");
    this.offset += length;
    return slice;
  }
  char(): string {
    return String.fromCharCode(this.u8());
  }
}

function readTuple(reader: Reader): TupleValue[] {
  const count = reader.i16();
  const values: TupleValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = reader.char();
    if (kind === "n") values.push({ kind: "null" });
    else if (kind === "u") values.push({ kind: "unchanged" });
    else if (kind === "t" || kind === "b") {
      const length = reader.i32();
      values.push({ kind: "text", text: reader.bytes(length).toString("utf8") });
    } else throw new Error(`pgoutput: unknown tuple column kind ${JSON.stringify(kind)}`);
  }
  return values;
}

/** Decodes one pgoutput message (the payload of an XLogData copy message). */
export function decodePgOutput(data: Buffer): PgOutputMessage {
  const reader = new Reader(data);
  const tag = reader.char();
  switch (tag) {
    case "B":
      return { tag: "begin", finalLsn: reader.u64(), commitTime: reader.i64(), xid: reader.u32() };
    case "C":
      return {
        tag: "commit",
        flags: reader.u8(),
        commitLsn: reader.u64(),
        endLsn: reader.u64(),
        commitTime: reader.i64(),
      };
    case "O":
      return { tag: "origin", originLsn: reader.u64(), name: reader.cstring() };
    case "R": {
      const relationId = reader.u32();
      const schema = reader.cstring();
      const table = reader.cstring();
      const replicaIdentity = reader.char();
      const count = reader.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.u8();
        columns.push({
          isKey: (flags & 1) === 1,
          name: reader.cstring(),
          typeOid: reader.u32(),
          typeModifier: reader.i32(),
        });
      }
      return { tag: "relation", relation: { relationId, schema, table, replicaIdentity, columns } };
    }
    case "Y":
      return { tag: "type", typeOid: reader.u32(), schema: reader.cstring(), name: reader.cstring() };
    case "I": {
      const relationId = reader.u32();
      const marker = reader.char();
      if (marker !== "N") throw new Error(`pgoutput: insert without a new tuple (${marker})`);
      return { tag: "insert", relationId, newTuple: readTuple(reader) };
    }
    case "U": {
      const relationId = reader.u32();
      let marker = reader.char();
      let oldTuple: TupleValue[] | undefined;
      let oldKind: "key" | "old" | undefined;
      if (marker === "K" || marker === "O") {
        oldKind = marker === "K" ? "key" : "old";
        oldTuple = readTuple(reader);
        marker = reader.char();
      }
      if (marker !== "N") throw new Error(`pgoutput: update without a new tuple (${marker})`);
      return { tag: "update", relationId, oldTuple, oldKind, newTuple: readTuple(reader) };
    }
    case "D": {
      const relationId = reader.u32();
      const marker = reader.char();
      if (marker !== "K" && marker !== "O") throw new Error(`pgoutput: delete without an old tuple (${marker})`);
      return { tag: "delete", relationId, oldKind: marker === "K" ? "key" : "old", oldTuple: readTuple(reader) };
    }
    case "T": {
      const count = reader.u32();
      const options = reader.u8();
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(reader.u32());
      return { tag: "truncate", options, relationIds };
    }
    case "M": {
      const flags = reader.u8();
      const lsn = reader.u64();
      const prefix = reader.cstring();
      const length = reader.u32();
      return { tag: "message", transactional: (flags & 1) === 1, lsn, prefix, content: reader.bytes(length) };
    }
    default:
      throw new Error(`pgoutput: unknown message type ${JSON.stringify(tag)}`);
  }
}
