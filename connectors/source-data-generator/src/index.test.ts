import {
  isSourceDefinition,
  loadConfig,
  parseConfig,
  type SourceInstance,
  type SourceRecord,
} from "@pulsar-connect/core";
import { createSourceContext } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import dataGenerator from "./index.ts";

async function open(raw: Record<string, unknown>, instanceId = 0, numInstances = 1) {
  const handle = createSourceContext({ name: "gen", instanceId, numInstances });
  const source = await dataGenerator.open(loadConfig(dataGenerator.config, raw), handle.context);
  return { source, handle };
}

async function readAll(source: SourceInstance, maxRecords = 1000): Promise<SourceRecord[]> {
  const all: SourceRecord[] = [];
  const signal = new AbortController().signal;
  for (;;) {
    const batch = await source.read({ maxRecords, signal });
    if (batch === null) return all;
    all.push(...batch);
  }
}

describe("data-generator source", () => {
  it("is a source definition named data-generator", () => {
    expect(isSourceDefinition(dataGenerator)).toBe(true);
    expect(dataGenerator.name).toBe("data-generator");
  });

  it("returns full batches at once when the rate is unlimited, with monotonic sequences", async () => {
    const { source } = await open({ ratePerSecond: 0 });
    const batch = await source.read({ maxRecords: 500, signal: new AbortController().signal });
    expect(batch).toHaveLength(500);
    expect(batch?.map((record) => record.sequence)).toEqual(Array.from({ length: 500 }, (_, i) => BigInt(i)));
    expect(new Set(batch?.map((record) => record.partitionId))).toEqual(new Set(["data-generator-gen-0-0"]));
    const next = await source.read({ maxRecords: 2, signal: new AbortController().signal });
    expect(next?.map((record) => record.sequence)).toEqual([500n, 501n]);
    expect(batch?.[0]?.schema?.type).toBe("JSON");
    expect(batch?.[0]?.value).toMatchObject({ id: 1, email: expect.stringContaining("@example.com") });
  });

  it("spreads records over partitions, each with its own gap-free sequence", async () => {
    const { source } = await open({ ratePerSecond: 0, partitions: 4, maxRecords: 1000 }, 2, 3);
    const records = await readAll(source, 128);
    expect(records).toHaveLength(1000);
    const byPartition = new Map<string, bigint[]>();
    for (const record of records) {
      const list = byPartition.get(record.partitionId as string) ?? [];
      list.push(record.sequence as bigint);
      byPartition.set(record.partitionId as string, list);
    }
    expect([...byPartition.keys()].sort()).toEqual([0, 1, 2, 3].map((p) => `data-generator-gen-2-${p}`));
    for (const sequences of byPartition.values()) {
      expect(sequences).toEqual(Array.from({ length: 250 }, (_, i) => BigInt(i)));
    }
    // Ids are unique across instances: instance 2 of 3 gets 3, 6, 9, ...
    expect(records.slice(0, 3).map((record) => (record.value as { id: number }).id)).toEqual([3, 6, 9]);
  });

  it("generates the same records for the same sequences after a restart", async () => {
    const first = await readAll((await open({ ratePerSecond: 0, maxRecords: 50, recordType: "orders" })).source);
    const again = await readAll((await open({ ratePerSecond: 0, maxRecords: 50, recordType: "orders" })).source);
    expect(again.map((record) => record.value)).toEqual(first.map((record) => record.value));
    expect(first[0]?.value).toMatchObject({ orderId: 1, quantity: expect.any(Number), total: expect.any(Number) });
  });

  it("resumes after the last acknowledged record instead of starting over at its rate", async () => {
    const settings = { ratePerSecond: 100, partitions: 2, maxRecords: 1000 };
    const first = await open(settings);
    const signal = new AbortController().signal;
    const delivered: SourceRecord[] = [];
    while (delivered.length < 20) delivered.push(...((await first.source.read({ maxRecords: 20, signal })) ?? []));
    // The first 15 reached the broker; the rest were in flight when the instance stopped.
    for (const record of delivered.slice(0, 15)) await record.ack?.();
    await first.source.close();

    const handle = createSourceContext({ name: "gen" });
    const context = { ...handle.context, state: first.handle.state };
    const restarted = await dataGenerator.open(loadConfig(dataGenerator.config, settings), context);
    const started = performance.now();
    const next = await restarted.read({ maxRecords: 1, signal });
    expect(performance.now() - started).toBeLessThan(500);
    // Record 15 (partition 1, sequence 7) is the first one not known to be stored.
    expect(next?.map((record) => [record.partitionId, record.sequence, (record.value as { id: number }).id])).toEqual([
      ["data-generator-gen-0-1", 7n, 16],
    ]);
  });

  it("under ATMOST_ONCE stores its position before a record is acked, so a crash never brings a record again", async () => {
    const settings = { ratePerSecond: 0, maxRecords: 0 };
    const handle = createSourceContext({ name: "gen", processingGuarantee: "ATMOST_ONCE" });
    const first = await dataGenerator.open(loadConfig(dataGenerator.config, settings), handle.context);
    const signal = new AbortController().signal;
    const batch = (await first.read({ maxRecords: 300, signal })) ?? [];
    expect(batch).toHaveLength(300);
    // The runtime awaits the acks before it sends; then the process dies without close().
    await Promise.all(batch.map((record) => record.ack?.()));

    const again = createSourceContext({ name: "gen", processingGuarantee: "ATMOST_ONCE" });
    const restarted = await dataGenerator.open(loadConfig(dataGenerator.config, settings), {
      ...again.context,
      state: handle.state,
    });
    const next = await restarted.read({ maxRecords: 1, signal });
    expect(next?.map((record) => record.sequence)).toEqual([300n]);
  });

  it("under ATMOST_ONCE fails the ack when the position cannot be stored", async () => {
    const handle = createSourceContext({ name: "gen", processingGuarantee: "ATMOST_ONCE" });
    // A state store whose writes fail: the position cannot be made durable.
    handle.state.put = () => Promise.reject(new Error("disk full"));
    const source = await dataGenerator.open(loadConfig(dataGenerator.config, { ratePerSecond: 0 }), handle.context);
    const batch = (await source.read({ maxRecords: 3, signal: new AbortController().signal })) ?? [];
    await expect(Promise.all(batch.map((record) => record.ack?.()))).rejects.toThrow(/disk full/);
  });

  it("stops with null after maxRecords", async () => {
    const { source } = await open({ ratePerSecond: 0, maxRecords: 250 });
    const records = await readAll(source, 100);
    expect(records).toHaveLength(250);
    expect(await source.read({ maxRecords: 10, signal: new AbortController().signal })).toBeNull();
  });

  it("keeps to ratePerSecond", async () => {
    const { source } = await open({ ratePerSecond: 200 });
    const signal = new AbortController().signal;
    const started = performance.now();
    let count = 0;
    while (count < 100) count += (await source.read({ maxRecords: 1000, signal }))?.length ?? 0;
    // 100 records at 200/s take at least half a second (a little less for a first burst); a loaded machine can
    // only make it slower, so only the upper bound on the rate is checked, plus a generous bound for liveness.
    const seconds = (performance.now() - started) / 1000;
    expect(count / seconds).toBeLessThanOrEqual(230);
    expect(seconds).toBeLessThan(10);
  });

  it("resolves a waiting read with no records when the read is aborted", async () => {
    const { source } = await open({ ratePerSecond: 0.5 });
    const abort = new AbortController();
    expect(await source.read({ maxRecords: 10, signal: abort.signal })).toHaveLength(1);
    const started = performance.now();
    const pending = source.read({ maxRecords: 10, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    expect(await pending).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("stops when the instance is stopped", async () => {
    const { source, handle } = await open({ ratePerSecond: 0.5 });
    const signal = new AbortController().signal;
    await source.read({ maxRecords: 10, signal });
    const pending = source.read({ maxRecords: 10, signal });
    handle.abort.abort();
    expect(await pending).toEqual([]);
  });

  it("generates well over 50k records per second", async () => {
    const { source } = await open({ ratePerSecond: 0 });
    const signal = new AbortController().signal;
    const started = performance.now();
    let count = 0;
    while (count < 200_000) count += (await source.read({ maxRecords: 1000, signal }))?.length ?? 0;
    const perSecond = count / ((performance.now() - started) / 1000);
    expect(perSecond).toBeGreaterThan(50_000);
  });

  it("refuses invalid config with field-level issues", () => {
    const result = parseConfig(dataGenerator.config, { recordType: "cars", ratePerSecond: -1, partitions: 0 });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual([
      "configs.partitions",
      "configs.ratePerSecond",
      "configs.recordType",
    ]);
  });
});
