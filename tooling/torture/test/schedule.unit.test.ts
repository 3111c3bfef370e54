import { describe, expect, it } from "vitest";
import { judge } from "../src/internal/oracle.ts";
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
