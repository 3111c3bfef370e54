// A sink instance with a backlog gives the event loop a turn between batches: with messages already buffered, every
// await on the way from one batch to the next settles at once, and a sink whose write() is synchronous (as
// better-sqlite3 is) would otherwise hold the loop for as many batches as the buffer holds, delaying timers and I/O.
import { defineSink, type PulsarPosition, type SinkRecord, z } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createInstance, resolveSinkConfig } from "../src/index.ts";
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
