import { silentLogger } from "@pulsar-connect/core";
import { type ConnectorInstance, InstanceStats, type SinkInstanceStatusData } from "@pulsar-connect/runtime";
import { describe, expect, it } from "vitest";
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
  it("restarts a failing instance with doubling delays up to the cap", async () => {
    const { slot: subject, launches } = slot(() => instance({ failStart: true }));
    subject.run();
    await sleep(700);
    await subject.stop();
    const gaps = launches.slice(1).map((time, index) => time - (launches[index] as number));
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[0]).toBeLessThan(80);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(155);
    expect(gaps[3]).toBeGreaterThanOrEqual(155);
    expect(gaps[3]).toBeLessThan(240);
    expect(subject.numRestarts).toBe(launches.length - 1);
    const status = subject.status();
    expect(status).toMatchObject({ running: false, state: "stopped", error: "cannot connect" });
  });

  it("says when it restarts and why, and starts again from the first delay after a stable run", async () => {
    const { slot: subject, launches } = slot(() => instance({ failAfterMs: 120 }), 100);
    subject.run();
    await sleep(140);
    expect(subject.status().state).toMatch(/^restarting in 1s after: lost connection$/);
    await sleep(800);
    await subject.stop();
    // Every run lasted longer than stableMs, so every restart waited the initial 40 ms (plus the 120 ms run).
    const gaps = launches.slice(1).map((time, index) => time - (launches[index] as number));
    for (const gap of gaps) expect(gap).toBeLessThan(220);
    expect(gaps.length).toBeGreaterThanOrEqual(4);
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
});
