import { describe, expect, it } from "vitest";
import { idRuns, type TopicCopy, traceViolations } from "../src/internal/trace.ts";

const origin = 1_000_000;
const copy = (id: number, atSeconds: number): TopicCopy => ({
  messageId: `7:${id}:-1:-1`,
  publishTime: origin + atSeconds * 1000,
  producerName: `p-${id % 2}`,
  sequenceId: BigInt(Math.floor((id - 1) / 2)),
});

describe("torture trace", () => {
  it("groups ids into runs of consecutive ids", () => {
    expect(idRuns([5, 1, 2, 3, 9, 10])).toEqual([
      [1, 3],
      [5, 5],
      [9, 10],
    ]);
    expect(idRuns([])).toEqual([]);
  });

  it("tells a loss before the topic from one after it, with the steps that ran around it", () => {
    // 1..20 generated one a second; 6..8 reached the topic but not the table, 12..13 never reached the topic.
    const topic = new Map<number, TopicCopy[]>();
    for (let id = 1; id <= 20; id++) if (id !== 12 && id !== 13) topic.set(id, [copy(id, id)]);
    const rows = new Map<number, number>();
    for (let id = 1; id <= 20; id++) if (![6, 7, 8, 12, 13].includes(id)) rows.set(id, 1);
    const steps = [
      { line: "t+   6s  sink-parallelism  pg-eo  2", start: origin + 6_500, end: origin + 7_000 },
      { line: "t+  40s  broker-kill  3s down", start: origin + 40_000, end: origin + 50_000 },
    ];
    const lines = traceViolations({
      expected: 20,
      rows,
      topic,
      steps,
      origin,
      lossForbidden: true,
      duplicationForbidden: true,
    }).join("\n");
    expect(lines).toContain("lost: 5 ids in 2 run(s); 2 never reached the topic (source side), 3 are in the topic");
    expect(lines).toContain("ids 6-8 (3) lost: 3 of them in the topic");
    expect(lines).toContain("ids 12-13 (2) lost: 0 of them in the topic");
    expect(lines).toContain("id 11 (before) published at t+11.0s");
    expect(lines).toContain("sink-parallelism  pg-eo  2");
    expect(lines).not.toContain("broker-kill");
    expect(lines).not.toContain("duplicated:");
  });

  it("tells a duplicate made at the source (twice in the topic) from one made by the sink", () => {
    const topic = new Map<number, TopicCopy[]>([
      [1, [copy(1, 1)]],
      [2, [copy(2, 2), copy(2, 3)]],
      [3, [copy(3, 4)]],
    ]);
    const rows = new Map<number, number>([
      [1, 2],
      [2, 2],
      [3, 1],
    ]);
    const lines = traceViolations({
      expected: 3,
      rows,
      topic,
      steps: [],
      origin,
      lossForbidden: true,
      duplicationForbidden: true,
    }).join("\n");
    expect(lines).toContain("duplicated: 2 ids in 1 run(s); 1 are more than once in the topic (source side), 1 once");
    expect(lines).not.toContain("lost:");
  });
});
