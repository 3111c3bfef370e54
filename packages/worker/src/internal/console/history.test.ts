import { LATENCY_BUCKET_BOUNDS_MS, LatencyHistogram } from "@pulsar-connect/runtime";
import { describe, expect, it } from "vitest";
import {
  ConnectorHistory,
  HISTORY_SAMPLES,
  quantileOf,
  SAMPLE_BYTES,
  type SampledConnector,
  type SampledCounters,
  SampleRing,
} from "./history.ts";

function counters(received: number, written: number, latency: LatencyHistogram = new LatencyHistogram()) {
  return { received, written, connectorExceptions: 0, systemExceptions: 0, writeLatency: latency };
}

describe("SampleRing", () => {
  it("keeps the latest samples in order once full, with a fixed size", () => {
    const ring = new SampleRing(3);
    const bytes = ring.bytes;
    for (let i = 1; i <= 5; i += 1) {
      ring.push({ at: i, seconds: 10, received: i, written: i * 2, errors: 0, p50Ms: i === 4 ? null : i, p99Ms: 9 });
    }
    expect(ring.length).toBe(3);
    expect(ring.samples().map((s) => s.at)).toEqual([3, 4, 5]);
    expect(ring.samples(2).map((s) => s.written)).toEqual([8, 10]);
    expect(ring.samples()[1]?.p50Ms).toBeNull();
    expect(ring.bytes).toBe(bytes);
    expect(bytes).toBe(3 * SAMPLE_BYTES);
  });

  it("holds an hour of 10-second samples in about 11.5 KB", () => {
    expect(new SampleRing(HISTORY_SAMPLES).bytes).toBe(11_520);
  });
});

describe("quantileOf", () => {
  it("finds the bucket a percentile falls in and interpolates inside it", () => {
    const latency = new LatencyHistogram();
    for (let i = 0; i < 99; i += 1) latency.record(3); // bucket (2, 4]
    latency.record(1000); // bucket (512, 1024]
    const p50 = quantileOf(latency.counts, 0.5) as number;
    expect(p50).toBeGreaterThan(2);
    expect(p50).toBeLessThanOrEqual(4);
    const p999 = quantileOf(latency.counts, 0.999) as number;
    expect(p999).toBeGreaterThan(512);
    expect(p999).toBeLessThanOrEqual(1024);
    expect(quantileOf(new LatencyHistogram().counts, 0.5)).toBeNull();
  });

  it("reports writes slower than the highest bound above it", () => {
    const latency = new LatencyHistogram();
    latency.record(10 * 60_000);
    expect(quantileOf(latency.counts, 0.99)).toBeGreaterThan(LATENCY_BUCKET_BOUNDS_MS.at(-1) as number);
  });
});

describe("ConnectorHistory", () => {
  it("samples each interval's gains per instance and in total, and bounds what it keeps", () => {
    let now = 1_000_000;
    const a = { received: 0, written: 0, latency: new LatencyHistogram() };
    const b = { received: 0, written: 0, latency: new LatencyHistogram() };
    const connectors: SampledConnector[] = [];
    const read = () => {
      connectors.splice(0, Infinity, {
        key: "sink:public/default/orders",
        instances: [
          { instanceId: 0, counters: counters(a.received, a.written, a.latency) },
          { instanceId: 1, counters: counters(b.received, b.written, b.latency) },
        ],
      });
      return connectors;
    };
    const history = new ConnectorHistory(read, { intervalMs: 10_000, samples: 4, now: () => now });
    history.tick();
    // A connector seen for the first time counts from zero: its first interval is a sample already.
    expect(history.totalOf("sink:public/default/orders")).toMatchObject([{ received: 0, written: 0, p50Ms: null }]);
    a.received = 100;
    a.written = 90;
    b.received = 50;
    b.written = 50;
    for (let i = 0; i < 10; i += 1) a.latency.record(3);
    now += 10_000;
    history.tick();
    const [, first] = history.totalOf("sink:public/default/orders");
    expect(first).toMatchObject({ at: now, seconds: 10, received: 150, written: 140, errors: 0 });
    expect(first?.p50Ms).toBeGreaterThan(2);
    expect(first?.p50Ms).toBeLessThanOrEqual(4);
    const perInstance = history.instancesOf("sink:public/default/orders");
    expect(perInstance.map((entry) => entry.samples[1]?.received)).toEqual([100, 50]);
    // Instance 1 wrote nothing measured: no latency for it.
    expect(perInstance[1]?.samples[1]?.p99Ms).toBeNull();
    const bytes = history.bytesOf("sink:public/default/orders");
    expect(bytes).toBe(3 * 4 * SAMPLE_BYTES);
    for (let i = 0; i < 10; i += 1) {
      a.received += 10;
      now += 10_000;
      history.tick();
    }
    expect(history.totalOf("sink:public/default/orders")).toHaveLength(4);
    expect(history.totalOf("sink:public/default/orders", 2).map((s) => s.received)).toEqual([10, 10]);
    expect(history.bytesOf("sink:public/default/orders")).toBe(bytes);
  });

  it("takes a restarted instance's fresh latency histogram as new writes, and forgets removed connectors", () => {
    let now = 0;
    let latency = new LatencyHistogram();
    for (let i = 0; i < 5; i += 1) latency.record(100);
    let present = true;
    const history = new ConnectorHistory(
      () =>
        present
          ? [
              {
                key: "source:t/n/s",
                instances: [{ instanceId: 0, counters: counters(5, 5, latency) as SampledCounters }],
              },
            ]
          : [],
      { now: () => now },
    );
    history.tick();
    expect(history.totalOf("source:t/n/s")).toMatchObject([{ received: 5, written: 5 }]);
    latency = new LatencyHistogram();
    latency.record(1);
    now += 10_000;
    history.tick();
    const [, sample] = history.totalOf("source:t/n/s");
    expect(sample?.p99Ms).toBeLessThanOrEqual(1);
    expect(sample?.received).toBe(0);
    present = false;
    now += 10_000;
    history.tick();
    expect(history.totalOf("source:t/n/s")).toEqual([]);
    expect(history.bytesOf("source:t/n/s")).toBe(0);
  });

  it("tells its listeners after a tick that added samples", () => {
    let calls = 0;
    const history = new ConnectorHistory(() => [
      { key: "k", instances: [{ instanceId: 0, counters: counters(1, 1) }] },
    ]);
    history.onSample(() => {
      calls += 1;
    });
    history.start();
    expect(calls).toBe(1);
    history.tick();
    expect(calls).toBe(2);
    expect(history.version).toBe(2);
    history.stop();
  });
});
