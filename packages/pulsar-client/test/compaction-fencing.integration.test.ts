import { afterAll, describe, expect, it } from "vitest";
import { isPulsarClientError, MessageId, type PulsarClientError, type Reader } from "../src/index.ts";
import { newAdmin, newClient, uniqueTopic, waitFor } from "./helpers.ts";

const admin = newAdmin();
const client = newClient();

afterAll(async () => {
  await client.close();
});

/** Every message a reader has until the end of the topic, as `key=value` (an empty value is a tombstone). */
async function readToEnd(reader: Reader): Promise<string[]> {
  const out: string[] = [];
  while (await reader.hasMessageAvailable()) {
    const message = await reader.readNext(20_000);
    out.push(`${message.key}=${message.data.toString()}`);
  }
  return out;
}

async function compact(topic: string): Promise<void> {
  await admin.triggerCompaction(topic);
  let last = "";
  await waitFor(
    async () => {
      const { status, lastError } = await admin.compactionStatus(topic);
      last = `${status} ${lastError ?? ""}`;
      if (status === "ERROR") throw new Error(`compaction failed: ${lastError}`);
      return status === "SUCCESS";
    },
    60_000,
    `compaction of ${topic} (last status ${last})`,
  );
}

describe("compacted topics", () => {
  it("a readCompacted reader sees the latest value per key, no deleted key, then what came after compaction", async () => {
    const topic = uniqueTopic("compacted");
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    for (const [key, value] of [
      ["k1", "a"],
      ["k2", "b"],
      ["k1", "c"],
      ["k2", ""],
      ["k3", "d"],
    ] as const) {
      await producer.send({ key, value });
    }
    expect((await admin.compactionStatus(topic)).status).toBe("NOT_RUN");
    await compact(topic);
    await producer.send({ key: "k1", value: "e" });

    const compacted = await client.createReader({ topic, startMessageId: MessageId.earliest, readCompacted: true });
    expect(await readToEnd(compacted)).toEqual(["k1=c", "k3=d", "k1=e"]);
    await compacted.close();
    // Without readCompacted the whole history is there, the tombstone included.
    const full = await client.createReader({ topic, startMessageId: MessageId.earliest });
    expect(await readToEnd(full)).toEqual(["k1=a", "k2=b", "k1=c", "k2=", "k3=d", "k1=e"]);
    await full.close();
    await producer.close();
  });

  it("compacts the keys of batched messages too", async () => {
    const topic = uniqueTopic("compacted-batch");
    const producer = await client.createProducer({ topic, batchingEnabled: true, batchingMaxPublishDelayMs: 50 });
    await Promise.all(
      ["x=1", "y=2", "x=3", "y=", "x=4"].map((entry) => {
        const [key, value] = entry.split("=") as [string, string];
        return producer.send({ key, value });
      }),
    );
    await compact(topic);
    const reader = await client.createReader({ topic, startMessageId: MessageId.earliest, readCompacted: true });
    expect(await readToEnd(reader)).toEqual(["x=4"]);
    await reader.close();
    await producer.close();
  });

  it("refuses a compaction status of a missing topic with the broker's 404", async () => {
    const error = await admin.compactionStatus(uniqueTopic("no-such")).catch((caught: unknown) => caught);
    expect(isPulsarClientError(error) && error.httpStatus).toBe(404);
  });
});

describe("exclusive producers", () => {
  it("a second Exclusive producer is refused (as fenced, the broker's answer) while the first one is connected", async () => {
    const topic = uniqueTopic("exclusive");
    const first = await client.createProducer({ topic, accessMode: "Exclusive" });
    const error = await client
      .createProducer({ topic, accessMode: "Exclusive", sendTimeoutMs: 5_000 })
      .catch((caught: unknown) => caught);
    expect(isPulsarClientError(error) && error.code).toBe("PRODUCER_FENCED");
    expect((error as Error).message).toMatch(/exclusive/i);
    await first.send({ value: "still mine" });
    await first.close();
  });

  it("ExclusiveWithFencing takes the topic over: the old producer's sends fail and it never writes again", async () => {
    const topic = uniqueTopic("fenced");
    // Each holder on a client (connection) of its own, as two workers would be.
    const oldClient = newClient();
    const old = await oldClient.createProducer({ topic, accessMode: "Exclusive", batchingEnabled: false });
    await old.send({ value: "old-1" });
    const fencing = await client.createProducer({ topic, accessMode: "ExclusiveWithFencing", batchingEnabled: false });
    await fencing.send({ value: "new-1" });
    // The broker closes the old producer; its reconnection is refused as fenced, and so is every later send.
    const late = await old.send({ value: "old-2" }).catch((caught: unknown) => caught);
    expect(isPulsarClientError(late) && late.code).toBe("PRODUCER_FENCED");
    const later = await old.send({ value: "old-3" }).catch((caught: unknown) => caught);
    expect(isPulsarClientError(later)).toBe(true);
    // A plain Exclusive producer cannot come back either while the fencing one holds the topic.
    const againClient = newClient();
    const again = await againClient
      .createProducer({ topic, accessMode: "Exclusive" })
      .catch((caught: unknown) => caught);
    await againClient.close();
    expect(isPulsarClientError(again)).toBe(true);
    expect(["PRODUCER_BUSY", "PRODUCER_FENCED"]).toContain((again as PulsarClientError).code);
    await fencing.send({ value: "new-2" });
    const reader = await client.createReader({ topic, startMessageId: MessageId.earliest });
    const values: string[] = [];
    while (await reader.hasMessageAvailable()) values.push((await reader.readNext(20_000)).data.toString());
    expect(values).toEqual(["old-1", "new-1", "new-2"]);
    await reader.close();
    await fencing.close();
    await old.close().catch(() => undefined);
    await oldClient.close();
  });
});
