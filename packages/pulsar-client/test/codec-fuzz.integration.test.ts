// Every codec against Apache Pulsar's own Java codec classes, in both directions, byte for byte: what this client
// compresses the Java client decompresses, and the reverse. The seed is printed; PC_FUZZ_SEED repeats a run and
// PC_FUZZ_PAYLOADS changes the number of payloads per codec.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compress, decompress } from "../src/internal/compression.ts";
import { JavaCodecs, type WireCodec } from "./java-helper.ts";
import { batchOf, generatorRecords, PayloadGenerator } from "./payloads.ts";

const CODECS: WireCodec[] = ["LZ4", "ZLIB", "ZSTD", "SNAPPY"];
const PAYLOADS = Number(process.env.PC_FUZZ_PAYLOADS ?? 10_000);
const SEED = Number(process.env.PC_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WINDOW = 32;

let java: JavaCodecs;
beforeAll(async () => {
  java = await JavaCodecs.start();
}, 120_000);
afterAll(() => java?.close());

function describeFailure(codec: WireCodec, direction: string, kind: string, size: number, index: number): string {
  return `${codec} ${direction}: payload #${index} (${kind}, ${size} bytes), seed ${SEED}`;
}

describe("codecs against the Java client's codec classes", () => {
  it("LZ4 batches of data-generator orders and people, as the source runtime writes them, decode in Java", async () => {
    const failures: string[] = [];
    for (const type of ["orders", "people"] as const) {
      const records = await generatorRecords(type, 30_000);
      for (let from = 0; from < records.length; from += 500) {
        const raw = batchOf(records.slice(from, from + 500), from + 1);
        try {
          const back = await java.decompress("LZ4", compress("LZ4", raw), raw.length);
          if (!back.equals(raw)) failures.push(`${type} batch at ${from}: content differs`);
        } catch (err) {
          failures.push(`${type} batch at ${from}: ${(err as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  for (const codec of CODECS) {
    it(`${codec}: ${PAYLOADS} seeded payloads, ours -> Java and Java -> ours`, async () => {
      console.log(`codec fuzz ${codec}: seed ${SEED} (PC_FUZZ_SEED=${SEED} repeats it), ${PAYLOADS} payloads`);
      const gen = await PayloadGenerator.create(SEED);
      const failures: string[] = [];
      let bytes = 0;
      const started = performance.now();
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < PAYLOADS && failures.length < 10; i++) {
        const { kind, data } = gen.next(i, PAYLOADS);
        bytes += data.length;
        const task = (async () => {
          const ours = compress(codec, data);
          const [javaReadsOurs, javasBlock] = await Promise.all([
            java.decompress(codec, ours, data.length).catch((err: Error) => err),
            java.compress(codec, data),
          ]);
          if (javaReadsOurs instanceof Error) {
            failures.push(`${describeFailure(codec, "ours -> Java", kind, data.length, i)}: ${javaReadsOurs.message}`);
          } else if (!javaReadsOurs.equals(data)) {
            failures.push(`${describeFailure(codec, "ours -> Java", kind, data.length, i)}: content differs`);
          }
          try {
            if (!decompress(codec, javasBlock, data.length).equals(data)) {
              failures.push(`${describeFailure(codec, "Java -> ours", kind, data.length, i)}: content differs`);
            }
          } catch (err) {
            failures.push(`${describeFailure(codec, "Java -> ours", kind, data.length, i)}: ${(err as Error).message}`);
          }
        })();
        inFlight.add(task);
        void task.finally(() => inFlight.delete(task));
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `codec fuzz ${codec}: ${PAYLOADS} payloads, ${(bytes / 1048576).toFixed(1)} MiB, ${seconds.toFixed(1)} s`,
      );
      expect(failures).toEqual([]);
    }, 120_000);
  }
});
