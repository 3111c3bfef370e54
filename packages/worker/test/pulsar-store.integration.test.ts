import { randomUUID } from "node:crypto";
import { MessageId, PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import type { ResolvedSinkConfig } from "@pulsar-connect/runtime";
import { afterAll, describe, expect, inject, it } from "vitest";
import { WorkerError } from "../src/index.ts";
import type { StoredConnector } from "../src/internal/connector-store.ts";
import { PulsarStore } from "../src/internal/pulsar-store.ts";
import { until } from "./helpers.ts";

const pulsar = inject("services")?.pulsar;
const client = new PulsarClient({ serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650" });
const admin = new PulsarAdmin({ serviceUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080" });
const opened: PulsarStore[] = [];

afterAll(async () => {
  for (const store of opened) await store.release();
  await client.close();
});

function storeTopic(): string {
  return `persistent://public/default/connector-store-${randomUUID().slice(0, 8)}`;
}

function open(topic: string, access?: "Exclusive" | "ExclusiveWithFencing"): PulsarStore {
  const store = new PulsarStore({ client, topic, ...(access ? { access } : {}) });
  opened.push(store);
  return store;
}

function sink(name: string, parallelism = 1, stoppedInstances: number[] = [], tenant = "public"): StoredConnector {
  const config = { tenant, namespace: "default", name, parallelism, inputs: [`in-${name}`] };
  return { kind: "sink", config: config as unknown as ResolvedSinkConfig, stoppedInstances };
}

function summary(entries: StoredConnector[]): string[] {
  return entries.map(
    (entry) =>
      `${entry.kind}:${entry.config.tenant}/${entry.config.name}:${entry.config.parallelism}:${entry.stoppedInstances.join(",")}`,
  );
}

async function compact(topic: string): Promise<void> {
  await admin.triggerCompaction(topic);
  await until(async () => (await admin.compactionStatus(topic)).status === "SUCCESS", 60_000, "compaction");
}

describe("the Pulsar connector store", () => {
  it("keeps the latest entry per connector and forgets removed ones, before and after compaction", async () => {
    const topic = storeTopic();
    const store = open(topic);
    await store.init();
    expect(await store.loadAll()).toEqual({ entries: [], problems: [] });
    await store.save(sink("a"));
    await store.save(sink("b"));
    await store.save(sink("a", 3, [1]));
    // Same name in another tenant is another connector; a name that needs encoding keeps its identity.
    await store.save(sink("a", 2, [], "other"));
    await store.save(sink("c/with~odd name"));
    await store.remove("sink", "public", "default", "b");
    await store.remove("sink", "public", "default", "never-stored");
    const expected = ["sink:other/a:2:", "sink:public/a:3:1", "sink:public/c/with~odd name:1:"];
    expect(summary((await store.loadAll()).entries)).toEqual(expected);

    await compact(topic);
    // What a compacted read gives: one message per live connector, the removal and old versions gone.
    const raw = await client.createReader({ topic, startMessageId: MessageId.earliest, readCompacted: true });
    let messages = 0;
    while (await raw.hasMessageAvailable()) {
      await raw.readNext(20_000);
      messages += 1;
    }
    await raw.close();
    expect(messages).toBe(3);
    expect(summary((await store.loadAll()).entries)).toEqual(expected);
    // The store's last write was a removal that compaction dropped: a new holder still reads to the end.
    await store.release();
    const next = open(topic);
    await next.init();
    expect(summary((await next.loadAll()).entries)).toEqual(expected);
    await next.save(sink("d"));
    expect(summary((await next.loadAll()).entries)).toEqual([...expected, "sink:public/d:1:"]);
  });

  it("refuses a second worker on the same topic while the first holds it, and lets it in after release", async () => {
    const topic = storeTopic();
    const first = open(topic);
    await first.init();
    const second = open(topic);
    const refused = await second.init().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WorkerError);
    expect((refused as WorkerError).code).toBe("DATA_DIR_IN_USE");
    expect((refused as WorkerError).message).toContain(topic);
    await first.save(sink("kept"));
    await first.release();
    await second.init();
    expect(summary((await second.loadAll()).entries)).toEqual(["sink:public/kept:1:"]);
  });

  it("a fencing holder takes over: every later write of the previous holder fails and is not stored", async () => {
    const topic = storeTopic();
    const old = open(topic, "ExclusiveWithFencing");
    await old.init();
    await old.save(sink("x", 1));
    const successor = open(topic, "ExclusiveWithFencing");
    await successor.init();
    await successor.save(sink("x", 2));
    const late = await old.save(sink("x", 9)).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(WorkerError);
    expect((late as WorkerError).code).toBe("STORE_FAILED");
    const lateRemove = await old.remove("sink", "public", "default", "x").catch((error: unknown) => error);
    expect(lateRemove).toBeInstanceOf(WorkerError);
    expect(summary((await successor.loadAll()).entries)).toEqual(["sink:public/x:2:"]);
  });

  it("reports unreadable and misplaced entries as problems and still loads the others", async () => {
    const topic = storeTopic();
    const store = open(topic);
    await store.init();
    await store.save(sink("good"));
    await store.release();
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await producer.send({ key: "sink~public~default~broken", value: "{not json" });
    await producer.send({ key: "sink~public~default~elsewhere", value: JSON.stringify(sink("good", 5)) });
    await producer.send({ value: "no key at all" });
    await producer.close();
    const reopened = open(topic);
    await reopened.init();
    const { entries, problems } = await reopened.loadAll();
    expect(summary(entries)).toEqual(["sink:public/good:1:"]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^sink~public~default~broken: /);
    expect(problems[1]).toBe("sink~public~default~elsewhere: the key does not name this entry");
  });

  it("a write before init fails clearly instead of being lost", async () => {
    const store = open(storeTopic());
    const error = await store.save(sink("early")).catch((caught: unknown) => caught);
    expect((error as WorkerError).code).toBe("STORE_FAILED");
    expect((error as WorkerError).message).toContain("not open");
  });
});
