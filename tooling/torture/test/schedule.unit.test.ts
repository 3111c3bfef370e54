import { describe, expect, it } from "vitest";
import { judge } from "../src/internal/oracle.ts";
import { OverlapTracker } from "../src/internal/overlap.ts";
import { describeStep, generateSchedule, parseActions, parsePipelines } from "../src/internal/schedule.ts";

const pipelines = parsePipelines("pg-eo,pg-al,pg-am,sqlite-eo,sqlite-al");

describe("torture schedule", () => {
  it("is the same for the same seed and differs for another", () => {
    const a = generateSchedule({ seed: 42, seconds: 600, pipelines }).map(describeStep);
    const b = generateSchedule({ seed: 42, seconds: 600, pipelines }).map(describeStep);
    const c = generateSchedule({ seed: 43, seconds: 600, pipelines }).map(describeStep);
    expect(a.length).toBeGreaterThan(30);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("starts what it stopped before touching that connector again, and never recreates an ATMOST_ONCE source", () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const steps = generateSchedule({ seed, seconds: 1800, pipelines });
      const stopped = new Set<string>();
      const guarantees = new Map(pipelines.map((p) => [p.id, p.guarantee as string]));
      for (const step of steps) {
        const key = `${step.pipeline}:${step.action.split("-")[0]}`;
        if (step.action === "sink-stop" || step.action === "source-stop") {
          expect(stopped.has(key)).toBe(false);
          stopped.add(key);
        } else if (step.action === "sink-start" || step.action === "source-start") {
          expect(stopped.delete(key)).toBe(true);
        } else if (step.action.startsWith("sink-") || step.action.startsWith("source-")) {
          expect(stopped.has(key)).toBe(false);
        }
        if (step.action === "guarantee") guarantees.set(step.pipeline as string, step.value as string);
        if (step.action === "source-recreate") expect(guarantees.get(step.pipeline as string)).not.toBe("ATMOST_ONCE");
      }
    }
  });

  it("draws only the actions it is given", () => {
    const actions = parseActions("broker-kill,topic-unload");
    const steps = generateSchedule({ seed: 9, seconds: 600, pipelines, actions });
    expect(new Set(steps.map((step) => step.action))).toEqual(new Set(["broker-kill", "topic-unload"]));
  });

  it("refuses unknown pipelines and actions by name", () => {
    expect(() => parsePipelines("pg-eo,mysql-al")).toThrow(/mysql-al/);
    expect(() => parseActions("broker-kill,reboot")).toThrow(/reboot/);
  });
});

describe("torture schedule of a cluster", () => {
  const clusterFaults = new Set(["worker-freeze", "worker-join", "worker-leave"]);

  it("draws cluster faults only with a cluster, and leaves the standalone schedule as it was", () => {
    const standalone = generateSchedule({ seed: 42, seconds: 1800, pipelines });
    expect(standalone.some((step) => clusterFaults.has(step.action) || step.target !== undefined)).toBe(false);
    expect(() => parseActions("worker-freeze")).toThrow(/worker-freeze need --cluster/);
    expect(parseActions("worker-freeze,worker-join", true)).toEqual(["worker-freeze", "worker-join"]);
    const clustered = generateSchedule({ seed: 42, seconds: 1800, pipelines, cluster: 3 }).map(describeStep);
    expect(generateSchedule({ seed: 42, seconds: 1800, pipelines, cluster: 3 }).map(describeStep)).toEqual(clustered);
    for (const action of clusterFaults) expect(clustered.some((line) => line.includes(action))).toBe(true);
  });

  it("names leader or follower for every worker fault, freezes one worker at a time, and joins before leaving", () => {
    const roles = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const steps = generateSchedule({ seed, seconds: 1800, pipelines, cluster: 3 });
      let frozenUntil = 0;
      let joined = false;
      for (const step of steps) {
        const workerFault = ["worker-kill", "worker-restart", "worker-freeze"].includes(step.action);
        if (workerFault) {
          expect(step.target).toMatch(/^(leader|follower)$/);
          roles.add(`${step.action}:${step.target}`);
          expect(step.at).toBeGreaterThanOrEqual(frozenUntil);
          expect(Number(step.value)).toBeGreaterThanOrEqual(1);
        }
        if (step.action === "worker-freeze") {
          expect(Number(step.value)).toBeGreaterThanOrEqual(5);
          expect(Number(step.value)).toBeLessThanOrEqual(60);
          frozenUntil = step.at + Number(step.value);
        }
        if (step.action === "worker-join") {
          expect(joined).toBe(false);
          joined = true;
        }
        if (step.action === "worker-leave") {
          expect(joined).toBe(true);
          joined = false;
        }
      }
    }
    expect([...roles].sort()).toEqual([
      "worker-freeze:follower",
      "worker-freeze:leader",
      "worker-kill:follower",
      "worker-kill:leader",
      "worker-restart:follower",
      "worker-restart:leader",
    ]);
  });
});

describe("torture check that an instance never runs on two workers at once", () => {
  const LEASE = 5_000;

  it("flags an instance two live workers hold for longer than the lease, once", () => {
    const tracker = new OverlapTracker(LEASE);
    for (let t = 0; t <= 8_000; t += 1_000) {
      tracker.heartbeat("a:1", ["sink:public/default/s:0"], t);
      tracker.heartbeat("b:2", ["sink:public/default/s:0", "source:public/default/g:0"], t);
      const found = tracker.check(t + 100);
      if (t <= LEASE) expect(found).toEqual([]);
      else if (t === 6_000) {
        expect(found).toEqual([
          { instance: "sink:public/default/s:0", workers: ["a:1", "b:2"], since: 100, forMs: 6_000 },
        ]);
      } else expect(found).toEqual([]);
    }
  });

  it("does not count a worker whose heartbeat is older than the lease (killed or frozen), nor a short overlap", () => {
    const tracker = new OverlapTracker(LEASE);
    tracker.heartbeat("a:1", ["sink:public/default/s:0"], 0);
    // a is frozen: its last heartbeat lapses, then b takes the instance over.
    for (let t = 6_000; t <= 20_000; t += 1_000) {
      tracker.heartbeat("b:2", ["sink:public/default/s:0"], t);
      expect(tracker.check(t + 100)).toEqual([]);
    }
    // a wakes: one heartbeat still lists what it held, the next one (after its tick closed it) does not.
    tracker.heartbeat("a:1", ["sink:public/default/s:0"], 20_500);
    expect(tracker.heldTwice(20_600).get("sink:public/default/s:0")).toEqual(["a:1", "b:2"]);
    expect(tracker.check(20_600)).toEqual([]);
    tracker.heartbeat("a:1", [], 21_500);
    tracker.heartbeat("b:2", ["sink:public/default/s:0"], 21_000);
    expect(tracker.heldTwice(21_600).size).toBe(0);
    for (let t = 22_000; t <= 40_000; t += 1_000) {
      tracker.heartbeat("b:2", ["sink:public/default/s:0"], t);
      expect(tracker.check(t + 100)).toEqual([]);
    }
  });

  it("forgets a worker that left (empty heartbeat) and ignores heartbeats older than the one it has", () => {
    const tracker = new OverlapTracker(LEASE);
    tracker.heartbeat("a:1", ["sink:public/default/s:0"], 1_000);
    tracker.heartbeat("b:2", ["sink:public/default/s:0"], 1_000);
    tracker.heartbeat("a:1", undefined, 1_500);
    expect(tracker.heldTwice(2_000).size).toBe(0);
    tracker.heartbeat("b:2", [], 3_000);
    tracker.heartbeat("b:2", ["sink:public/default/s:0"], 2_000);
    tracker.heartbeat("a:1", ["sink:public/default/s:0"], 3_000);
    expect(tracker.heldTwice(3_500).size).toBe(0);
  });
});

describe("torture oracle", () => {
  const rows = (entries: Array<[number, number]>) => new Map(entries);

  it("holds EFFECTIVELY_ONCE to exactly once", () => {
    const ok = judge({
      id: "p",
      guarantees: ["EFFECTIVELY_ONCE"],
      expected: 3,
      rows: rows([
        [1, 1],
        [2, 1],
        [3, 1],
      ]),
      notRunning: [],
    });
    expect(ok.violations).toEqual([]);
    const twice = judge({
      id: "p",
      guarantees: ["EFFECTIVELY_ONCE"],
      expected: 3,
      rows: rows([
        [1, 1],
        [2, 2],
        [3, 1],
      ]),
      notRunning: [],
    });
    expect(twice).toMatchObject({ duplicated: 1, duplicatedSample: [2] });
    expect(twice.violations).toHaveLength(1);
    const lost = judge({
      id: "p",
      guarantees: ["EFFECTIVELY_ONCE"],
      expected: 3,
      rows: rows([
        [1, 1],
        [3, 1],
      ]),
      notRunning: [],
    });
    expect(lost).toMatchObject({ lost: 1, lostSample: [2] });
    expect(lost.violations).toHaveLength(1);
  });

  it("lets ATLEAST_ONCE duplicate but not lose, and ATMOST_ONCE lose but not duplicate", () => {
    const atLeast = { id: "p", guarantees: ["ATLEAST_ONCE"] as const, expected: 2, notRunning: [] };
    expect(
      judge({
        ...atLeast,
        guarantees: [...atLeast.guarantees],
        rows: rows([
          [1, 3],
          [2, 1],
        ]),
      }).violations,
    ).toEqual([]);
    expect(judge({ ...atLeast, guarantees: [...atLeast.guarantees], rows: rows([[1, 1]]) }).violations).toHaveLength(1);
    const atMost = { id: "p", expected: 2, notRunning: [] };
    expect(judge({ ...atMost, guarantees: ["ATMOST_ONCE"], rows: rows([[1, 1]]) }).violations).toEqual([]);
    expect(
      judge({
        ...atMost,
        guarantees: ["ATMOST_ONCE"],
        rows: rows([
          [1, 2],
          [2, 1],
        ]),
      }).violations,
    ).toHaveLength(1);
  });

  it("judges a pipeline whose guarantee was changed by every guarantee it held", () => {
    const mixed = judge({
      id: "p",
      guarantees: ["EFFECTIVELY_ONCE", "ATMOST_ONCE"],
      expected: 2,
      rows: rows([[1, 1]]),
      notRunning: [],
    });
    expect(mixed.violations).toEqual([]);
    const both = judge({
      id: "p",
      guarantees: ["ATMOST_ONCE", "ATLEAST_ONCE"],
      expected: 2,
      rows: rows([[1, 2]]),
      notRunning: [],
    });
    expect(both.violations).toEqual([]);
  });

  it("reports a connector the user left running that is not running", () => {
    const verdict = judge({
      id: "p",
      guarantees: ["ATLEAST_ONCE"],
      expected: 1,
      rows: rows([[1, 1]]),
      notRunning: ["sink s: stopped"],
    });
    expect(verdict.violations).toEqual(["p: sink s: stopped was left running by the user but is not running"]);
  });
});
