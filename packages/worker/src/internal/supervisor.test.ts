import { silentLogger } from "@pulsar-connect/core";
import { type ConnectorInstance, InstanceStats, type SinkInstanceStatusData } from "@pulsar-connect/runtime";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InstanceSlot } from "./supervisor.ts";

// A stand-in instance (no broker): the slot's restart policy is what is under test.
function instance(behaviour: { failStart?: boolean; failAfterMs?: number }): ConnectorInstance {
  let reject!: (error: Error) => void;
  let resolve!: () => void;
  const done = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return {
    kind: "sink",
    instanceId: 0,
    stats: new InstanceStats(),
    done,
    async start() {
      if (behaviour.failStart) throw new Error("cannot connect");
      if (behaviour.failAfterMs !== undefined)
        setTimeout(() => reject(new Error("lost connection")), behaviour.failAfterMs);
    },
    async stop() {
      resolve();
    },
    status() {
      return { running: true, state: "" } as SinkInstanceStatusData;
    },
  };
}

function slot(factory: () => ConnectorInstance, stableMs = 60_000): { slot: InstanceSlot; launches: number[] } {
  const launches: number[] = [];
  const result = new InstanceSlot({
    kind: "sink",
    instanceId: 0,
    factory: async () => {
      launches.push(Date.now());
      return factory();
    },
    logger: silentLogger,
    scrub: (text) => text,
    backoff: { initialMs: 40, maxMs: 160, stableMs },
    workerId: "test",
  });
  return { slot: result, launches };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("InstanceSlot", () => {
  // The restart policy is about time: these run on fake timers, so a loaded machine cannot stretch the gaps.
  afterEach(() => {
    vi.useRealTimers();
  });

  it("restarts a failing instance with doubling delays up to the cap", async () => {
    vi.useFakeTimers();
    const { slot: subject, launches } = slot(() => instance({ failStart: true }));
    subject.run();
    await vi.advanceTimersByTimeAsync(700);
    const stopped = subject.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
    const gaps = launches.slice(1).map((time, index) => time - (launches[index] as number));
    expect(gaps.slice(0, 5)).toEqual([40, 80, 160, 160, 160]);
    expect(subject.numRestarts).toBe(launches.length - 1);
    const status = subject.status();
    expect(status).toMatchObject({ running: false, state: "stopped", error: "cannot connect" });
  });

  it("says when it restarts and why, and starts again from the first delay after a stable run", async () => {
    vi.useFakeTimers();
    const { slot: subject, launches } = slot(() => instance({ failAfterMs: 120 }), 100);
    subject.run();
    await vi.advanceTimersByTimeAsync(140);
    expect(subject.status().state).toMatch(/^restarting in 1s after: lost connection$/);
    await vi.advanceTimersByTimeAsync(800);
    const stopped = subject.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
    // Every run lasted longer than stableMs, so every restart waited the initial 40 ms (plus the 120 ms run).
    const gaps = launches.slice(1).map((time, index) => time - (launches[index] as number));
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    for (const gap of gaps) expect(gap).toBe(160);
  });

  it("does not restart after a stop, nor after the instance finished on its own", async () => {
    const { slot: subject, launches } = slot(() => instance({}));
    subject.run();
    await sleep(20);
    expect(subject.status().running).toBe(true);
    await subject.stop();
    await sleep(100);
    expect(launches).toHaveLength(1);
    expect(subject.status()).toMatchObject({ running: false, state: "stopped" });
  });

  it("closes the instance at once, without draining, when asked to stop immediately", async () => {
    const calls: string[] = [];
    const draining = instance({});
    const subject = slot(() => ({
      ...draining,
      async stop() {
        calls.push("stop");
        await sleep(60_000);
      },
      async forceStop() {
        calls.push("forceStop");
      },
    })).slot;
    subject.run();
    await sleep(50);
    const started = performance.now();
    await subject.stop({ immediate: true });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(calls).toEqual(["forceStop"]);
    expect(subject.holdsInstance).toBe(false);
  });
});
