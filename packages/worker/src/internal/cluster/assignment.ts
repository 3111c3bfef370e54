/** An instance the leader places: its name (`tenant/namespace/name:id`, kind-prefixed) and declared resources. */
export interface Demand {
  instance: string;
  /** Cores the instance declares (`resources.cpu`), 0 when it declares none. */
  cpu: number;
  /** Bytes of memory the instance declares (`resources.ram`), 0 when it declares none. */
  ram: number;
}

/** instance -> workerId. */
export type Placement = Record<string, string>;

interface Load {
  workerId: string;
  count: number;
  cpu: number;
  ram: number;
}

/** Heavier first: cpu, then ram, then name, so that equal inputs give equal placements on every leader. */
function heavierFirst(a: Demand, b: Demand): number {
  return b.cpu - a.cpu || b.ram - a.ram || (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0);
}

function lighter(a: Load, b: Load): number {
  return a.count - b.count || a.cpu - b.cpu || a.ram - b.ram || (a.workerId < b.workerId ? -1 : 1);
}

/**
 * Places every instance on one of `workers`: counts differ by at most one between workers, heavier instances
 * (declared cpu, then ram) spread first to the least loaded worker, and an instance stays where `previous` put it
 * whenever that keeps the counts balanced, so that a join or a leave moves as few instances as possible.
 */
export function assign(demands: readonly Demand[], workers: readonly string[], previous: Placement): Placement {
  const placement: Placement = {};
  if (workers.length === 0) return placement;
  const ids = [...new Set(workers)].sort();
  const floor = Math.floor(demands.length / ids.length);
  // This many workers may hold floor + 1 instances.
  let extra = demands.length % ids.length;
  const loads = new Map<string, Load>(ids.map((workerId) => [workerId, { workerId, count: 0, cpu: 0, ram: 0 }]));
  const take = (load: Load, demand: Demand) => {
    placement[demand.instance] = load.workerId;
    load.count += 1;
    load.cpu += demand.cpu;
    load.ram += demand.ram;
    if (load.count === floor + 1) extra -= 1;
  };
  const sorted = [...demands].sort(heavierFirst);
  const open: Demand[] = [];
  // Sticky pass: keep up to `floor` per worker where they are, then the extra places in order.
  const kept: Demand[] = [];
  for (const demand of sorted) {
    const owner = previous[demand.instance];
    const load = owner === undefined ? undefined : loads.get(owner);
    if (load && load.count < floor) take(load, demand);
    else if (load) kept.push(demand);
    else open.push(demand);
  }
  for (const demand of kept) {
    const load = loads.get(previous[demand.instance] as string) as Load;
    if (load.count === floor && extra > 0) take(load, demand);
    else open.push(demand);
  }
  for (const demand of open.sort(heavierFirst)) {
    const candidates = [...loads.values()].filter((load) => load.count < floor || (load.count === floor && extra > 0));
    const target = candidates.sort(lighter)[0] as Load;
    take(target, demand);
  }
  return placement;
}

/** How many instances `next` places on another worker than `previous` did (new instances not counted). */
export function moves(previous: Placement, next: Placement): number {
  return Object.entries(next).filter(([instance, owner]) => {
    const before = previous[instance];
    return before !== undefined && before !== owner;
  }).length;
}

/** Parses a `resources.ram` value: a number of bytes, or a string with a k/m/g/t suffix (binary). */
export function ramBytes(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  if (typeof value !== "string") return 0;
  const found = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(value);
  if (!found) return 0;
  const power = ["", "k", "m", "g", "t"].indexOf((found[2] ?? "").toLowerCase());
  return Number(found[1]) * 1024 ** power;
}
