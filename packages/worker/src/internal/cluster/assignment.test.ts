import { describe, expect, it } from "vitest";
import { assign, type Demand, moves, type Placement, ramBytes } from "./assignment.ts";

const plain = (count: number): Demand[] =>
  Array.from({ length: count }, (_, i) => ({
    instance: `sink:public/default/s${String(i).padStart(2, "0")}:0`,
    cpu: 0,
    ram: 0,
  }));

function counts(placement: Placement): Record<string, number> {
  const out: Record<string, number> = {};
  for (const owner of Object.values(placement)) out[owner] = (out[owner] ?? 0) + 1;
  return out;
}

describe("assign", () => {
  it("places every instance, counts differing by at most one", () => {
    const placement = assign(plain(12), ["w1", "w2", "w3"], {});
    expect(Object.keys(placement)).toHaveLength(12);
    expect(counts(placement)).toEqual({ w1: 4, w2: 4, w3: 4 });
    const uneven = counts(assign(plain(7), ["w1", "w2", "w3"], {}));
    expect(Object.values(uneven).sort()).toEqual([2, 2, 3]);
  });

  it("places nothing without workers, and everything on a single worker", () => {
    expect(assign(plain(3), [], {})).toEqual({});
    expect(counts(assign(plain(3), ["solo"], {}))).toEqual({ solo: 3 });
  });

  it("moves only the dead worker's instances when a worker leaves", () => {
    const before = assign(plain(12), ["w1", "w2", "w3"], {});
    const after = assign(plain(12), ["w1", "w3"], before);
    expect(counts(after)).toEqual({ w1: 6, w3: 6 });
    for (const [instance, owner] of Object.entries(before)) {
      if (owner !== "w2") expect(after[instance], `${instance} stays on ${owner}`).toBe(owner);
    }
    expect(moves(before, after)).toBe(4);
  });

  it("gives a joining worker a fair share and moves no more than that share", () => {
    const before = assign(plain(12), ["w1", "w3"], {});
    const after = assign(plain(12), ["w1", "w2", "w3"], before);
    expect(counts(after)).toEqual({ w1: 4, w2: 4, w3: 4 });
    expect(moves(before, after)).toBe(4);
  });

  it("is stable: the same inputs keep the same placement", () => {
    const before = assign(plain(10), ["a", "b", "c"], {});
    expect(assign(plain(10), ["c", "b", "a"], before)).toEqual(before);
    expect(moves(before, assign(plain(10), ["a", "b", "c"], before))).toBe(0);
  });

  it("spreads instances that declare resources over the workers before the light ones", () => {
    const demands: Demand[] = [
      ...plain(4),
      { instance: "source:public/default/heavy-a:0", cpu: 4, ram: 0 },
      { instance: "source:public/default/heavy-b:0", cpu: 4, ram: 0 },
    ];
    const placement = assign(demands, ["w1", "w2"], {});
    expect(counts(placement)).toEqual({ w1: 3, w2: 3 });
    expect(placement["source:public/default/heavy-a:0"]).not.toBe(placement["source:public/default/heavy-b:0"]);
    const ramHeavy: Demand[] = [
      ...plain(2),
      { instance: "sink:public/default/big-1:0", cpu: 0, ram: ramBytes("4g") },
      { instance: "sink:public/default/big-2:0", cpu: 0, ram: ramBytes("4g") },
    ];
    const spread = assign(ramHeavy, ["w1", "w2"], {});
    expect(spread["sink:public/default/big-1:0"]).not.toBe(spread["sink:public/default/big-2:0"]);
  });

  it("drops instances that no longer exist and places new ones on the lightest worker", () => {
    const before = assign(plain(4), ["w1", "w2"], {});
    const fewer = plain(4).slice(1);
    const after = assign([...fewer, { instance: "sink:public/default/new:0", cpu: 0, ram: 0 }], ["w1", "w2"], before);
    expect(Object.keys(after)).not.toContain(plain(4)[0]?.instance);
    expect(counts(after)).toEqual({ w1: 2, w2: 2 });
  });
});

describe("ramBytes", () => {
  it("reads numbers and suffixed sizes, and 0 for anything else", () => {
    expect(ramBytes(1024)).toBe(1024);
    expect(ramBytes("512m")).toBe(512 * 1024 ** 2);
    expect(ramBytes("2Gi")).toBe(2 * 1024 ** 3);
    expect(ramBytes("lots")).toBe(0);
    expect(ramBytes(undefined)).toBe(0);
  });
});
