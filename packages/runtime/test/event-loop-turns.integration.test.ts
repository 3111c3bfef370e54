// Instances with work at hand give the event loop a turn between batches. With messages already buffered (a sink) or
// records ready at once (a source), every await from one batch to the next settles at once, and a synchronous write()
// (as better-sqlite3's) or read() would otherwise hold the loop for batch after batch, delaying timers and I/O.
import {
  defineSink,
  defineSource,
  type PulsarPosition,
  type SinkRecord,
  type SourceRecord,
  z,
} from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createInstance, resolveSinkConfig, resolveSourceConfig } from "../src/index.ts";
import { uniqueNames, waitFor } from "./helpers.ts";

const services = inject("services");
const SERVICE_URL = services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080";
const unique = uniqueNames();
const MESSAGES = 12_000;
const BATCH = 500;
/** CPU time each write holds the thread, as a synchronous database driver does. */
const WRITE_MS = 20;
let client: PulsarClient;

beforeAll(() => {
  client = new PulsarClient({ serviceUrl: SERVICE_URL });
});
afterAll(async () => {
  await client.close();
});

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

/** A sink that stores positions with each write (as JDBC sinks do) and holds the thread for WRITE_MS per write. */
function synchronousSink(written: Set<number>, onWrite: () => void) {
  const positions = new Map<string, PulsarPosition>();
  return defineSink({
    name: "synchronous",
    description: "writes synchronously",
    config: z.object({}),
    storesPositions: true,
    async open() {
      return {
        write: async (records: SinkRecord[]) => {
          busy(WRITE_MS);
          onWrite();
          for (const record of records) {
            written.add((record.value as { id: number }).id);
            positions.set(record.position.topic, record.position);
          }
          return { failed: [] };
        },
        storedPositions: async () => [...positions.values()],
        async close() {},
      };
    },
  });
}

describe("a sink with a backlog", () => {
  it("lets a due timer fire after at most two writes", async () => {
    const topic = `persistent://public/default/${unique("loop-turns")}`;
    // Entries of 100 messages: a batch ends at an entry boundary, so each write takes BATCH messages.
    const producer = await client.createProducer({ topic, batchingMaxMessages: 100 });
    await Promise.all(
      Array.from({ length: MESSAGES }, (_, id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })),
    );
    await producer.close();

    const written = new Set<number>();
    const writes = { count: 0 };
    // The most writes between two firings of a 1 ms timer, which is due again after every write.
    let writesSinceTick = 0;
    let mostWritesBetweenTicks = 0;
    const resolved = resolveSinkConfig({
      name: unique("sink"),
      archive: "builtin://synchronous",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      processingGuarantees: "EFFECTIVELY_ONCE",
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const instance = createInstance({
      kind: "sink",
      config: resolved.value,
      definition: synchronousSink(written, () => {
        writes.count += 1;
        writesSinceTick += 1;
      }),
      instanceId: 0,
      pulsar: { client, adminUrl: ADMIN_URL },
      batchSize: BATCH,
    });

    const probe = setInterval(() => {
      mostWritesBetweenTicks = Math.max(mostWritesBetweenTicks, writesSinceTick);
      writesSinceTick = 0;
    }, 1);
    try {
      await instance.start();
      await waitFor(() => written.size === MESSAGES, "every message written", 60_000);
    } finally {
      clearInterval(probe);
      await instance.stop();
    }
    expect(writes.count).toBeGreaterThanOrEqual(MESSAGES / BATCH);
    // The turn is a setImmediate: when the chain began in an I/O callback, the check phase of that same turn may run
    // one more write before the timers. Without turns the whole buffer (four batches or more) goes in one stretch.
    expect(mostWritesBetweenTicks).toBeLessThanOrEqual(2);
  });
});

describe("a source whose records are ready at once", () => {
  it("lets a due timer fire after at most two reads", async () => {
    const READ = 250;
    let reads = 0;
    let readsSinceTick = 0;
    let mostReadsBetweenTicks = 0;
    const definition = defineSource({
      name: "synchronous",
      description: "reads synchronously",
      config: z.object({}),
      async open() {
        let next = 0;
        return {
          async read() {
            if (next >= MESSAGES) return null;
            busy(WRITE_MS);
            reads += 1;
            readsSinceTick += 1;
            const records: SourceRecord[] = [];
            for (const end = next + READ; next < end; next += 1) records.push({ value: { id: next } });
            return records;
          },
          async close() {},
        };
      },
    });
    const resolved = resolveSourceConfig({
      name: unique("source"),
      archive: "builtin://synchronous",
      topicName: `persistent://public/default/${unique("loop-turns-source")}`,
      processingGuarantees: "ATLEAST_ONCE",
      // Room for eight reads before the sends must be confirmed.
      producerConfig: { maxPendingMessages: 8 * READ },
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const instance = createInstance({
      kind: "source",
      config: resolved.value,
      definition,
      instanceId: 0,
      pulsar: { client, adminUrl: ADMIN_URL },
    });
    const probe = setInterval(() => {
      mostReadsBetweenTicks = Math.max(mostReadsBetweenTicks, readsSinceTick);
      readsSinceTick = 0;
    }, 1);
    try {
      await instance.start();
      await instance.done;
    } finally {
      clearInterval(probe);
    }
    expect(reads).toBe(MESSAGES / READ);
    expect(instance.stats.written).toBe(MESSAGES);
    expect(mostReadsBetweenTicks).toBeLessThanOrEqual(2);
  });
});
