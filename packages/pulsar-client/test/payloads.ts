// Seeded payloads for codec tests: random bytes, batches of data-generator records as the producer lays them out,
// long repeats, near-incompressible data, sizes from 0 to the 5 MiB message limit.
import { appendBatchEntry } from "../src/internal/batch.ts";
import { Writer } from "../src/internal/protobuf.ts";
import { seededRandom } from "./seeded-random.ts";

export const MAX_MESSAGE_SIZE = 5 * 1024 * 1024;
export type RecordType = "people" | "orders";
export const RECORD_TYPES: readonly RecordType[] = ["people", "orders"];

interface GeneratorSource {
  open(
    settings: Record<string, unknown>,
    context: Record<string, unknown>,
  ): Promise<{ read(o: { maxRecords: number; signal: AbortSignal }): Promise<Array<{ value: unknown }> | null> }>;
}

/**
 * `count` records of the data-generator source (its own code, run as the runtime would), serialized to JSON like
 * the runtime does for a JSON schema.
 */
export async function generatorRecords(recordType: RecordType, count: number, firstId = 0): Promise<Buffer[]> {
  // Loaded by path: the connector is no dependency of this package, only a source of realistic records.
  const path = new URL("../../../connectors/source-data-generator/src/index.ts", import.meta.url).href;
  const source = ((await import(path)) as { default: GeneratorSource }).default;
  const signal = new AbortController().signal;
  const reader = await source.open(
    { recordType, ratePerSecond: 0, maxRecords: firstId + count, partitions: 1 },
    {
      tenant: "public",
      namespace: "default",
      name: "codec-test",
      instanceId: 0,
      numInstances: 1,
      signal,
      outputTopic: "codec-test",
      // The generator resumes from a position in its state store: a fresh, empty one here.
      state: { get: async () => undefined, put: async () => {}, delete: async () => {} },
      logger: { warn: () => {} },
    },
  );
  const out: Buffer[] = [];
  while (out.length < firstId + count) {
    const batch = await reader.read({ maxRecords: firstId + count - out.length, signal });
    if (!batch) break;
    for (const r of batch) out.push(Buffer.from(JSON.stringify(r.value)));
  }
  return out.slice(firstId);
}

/** A batch payload (as the producer compresses it) of JSON records with keys and event times. */
export function batchOf(records: readonly Buffer[], firstKey = 1): Buffer {
  const w = new Writer(64 * 1024);
  records.forEach((payload, i) => {
    appendBatchEntry(
      w,
      {
        partitionKey: String(firstKey + i),
        eventTime: 1_700_000_000_000n + BigInt(i),
        payloadSize: payload.length,
        sequenceId: BigInt(i),
      },
      payload,
    );
  });
  return Buffer.from(w.buf.subarray(0, w.pos));
}

export type PayloadKind = "random" | "records" | "repeats" | "near-incompressible";

export interface Payload {
  kind: PayloadKind;
  data: Buffer;
}

/**
 * Makes payloads of every kind from `seed`. Sizes are mostly small (log-uniform up to 16 KiB), some medium (up to
 * 256 KiB) and a few large ones up to exactly the 5 MiB message limit, so ten thousand fit in a short run.
 */
export class PayloadGenerator {
  private readonly rand: () => number;
  private readonly records: Record<RecordType, Buffer[]>;

  private constructor(seed: number, records: Record<RecordType, Buffer[]>) {
    this.rand = seededRandom(seed);
    this.records = records;
  }

  static async create(seed: number): Promise<PayloadGenerator> {
    const [people, orders] = await Promise.all(RECORD_TYPES.map((t) => generatorRecords(t, 4000)));
    return new PayloadGenerator(seed, { people: people!, orders: orders! });
  }

  size(index: number, total: number): number {
    if (index === 0) return 0;
    if (index === 1) return MAX_MESSAGE_SIZE;
    if (index < 20) return index; // every length around the end-of-block limits
    if (index % Math.max(1, Math.floor(total / 12)) === 0) {
      return Math.floor(1024 * 1024 + this.rand() * (MAX_MESSAGE_SIZE - 1024 * 1024));
    }
    const max = this.rand() < 0.08 ? 256 * 1024 : 16 * 1024;
    return Math.floor(Math.exp(this.rand() * Math.log(max)));
  }

  next(index: number, total: number): Payload {
    const size = this.size(index, total);
    const kinds: PayloadKind[] = ["random", "records", "repeats", "near-incompressible"];
    const kind = kinds[index % kinds.length]!;
    return { kind, data: this.make(kind, size, index) };
  }

  private make(kind: PayloadKind, size: number, index: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    switch (kind) {
      case "random":
        this.fillRandom(out, 0, size);
        return out;
      case "records": {
        const list = this.records[index % 4 === 1 ? "orders" : "people"];
        // Half of them as producer batches (binary framing + JSON), half as plain JSON lines.
        const chunks: Buffer[] = [];
        let length = 0;
        let i = Math.floor(this.rand() * list.length);
        while (length < size) {
          const n = Math.min(100, list.length);
          const records = Array.from({ length: n }, () => list[i++ % list.length]!);
          const chunk = (index >> 2) % 2 === 0 ? batchOf(records, i) : Buffer.from(`${records.join("\n")}\n`);
          chunks.push(chunk);
          length += chunk.length;
        }
        return Buffer.concat(chunks).subarray(0, size);
      }
      case "repeats": {
        const unit = 1 + Math.floor(this.rand() * 64);
        const pattern = Buffer.allocUnsafe(unit);
        this.fillRandom(pattern, 0, unit);
        for (let p = 0; p < size; p++) out[p] = pattern[p % unit]!;
        // A few random bytes in between so matches end at arbitrary places.
        for (let k = Math.floor(this.rand() * 4); k > 0 && size > 0; k--) {
          out[Math.floor(this.rand() * size)] = Math.floor(this.rand() * 256);
        }
        return out;
      }
      case "near-incompressible": {
        this.fillRandom(out, 0, size);
        // Short repeated runs (4..8 bytes) here and there: the codecs find matches but gain almost nothing.
        for (let p = 16; p + 8 < size; p += 64 + Math.floor(this.rand() * 512)) {
          const from = Math.floor(this.rand() * p);
          out.copy(out, p, from, from + 4 + Math.floor(this.rand() * 5));
        }
        return out;
      }
    }
  }

  private fillRandom(buf: Buffer, from: number, to: number): void {
    let p = from;
    while (p + 4 <= to) {
      buf.writeUInt32LE((this.rand() * 4294967296) >>> 0, p);
      p += 4;
    }
    while (p < to) buf[p++] = Math.floor(this.rand() * 256);
  }
}
