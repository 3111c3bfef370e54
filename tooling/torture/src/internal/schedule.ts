import { Random } from "./random.ts";

export type Guarantee = "ATMOST_ONCE" | "ATLEAST_ONCE" | "EFFECTIVELY_ONCE";
export type Store = "postgres" | "sqlite";

/** One pipeline: data-generator source -> its own topic -> a JDBC sink writing into its own table. */
export interface PipelineSpec {
  id: string;
  store: Store;
  guarantee: Guarantee;
}

export const FAULTS = [
  "worker-kill",
  "worker-restart",
  "broker-kill",
  "broker-restart",
  "topic-unload",
  "db-connections-killed",
  "db-unavailable",
  "poison-record",
] as const;
/** Faults drawn only with `--cluster`: a worker frozen (SIGSTOP, SIGCONT later), a 4th worker joining and leaving. */
export const CLUSTER_FAULTS = ["worker-freeze", "worker-join", "worker-leave"] as const;
export type ClusterFault = (typeof CLUSTER_FAULTS)[number];
export type Fault = (typeof FAULTS)[number] | ClusterFault;

export const OPERATIONS = [
  "sink-stop",
  "sink-start",
  "sink-restart",
  "source-stop",
  "source-start",
  "source-restart",
  "sink-parallelism",
  "sink-batch-size",
  "guarantee",
  "sink-recreate",
  "source-recreate",
] as const;
export type Operation = (typeof OPERATIONS)[number];
export type Action = Fault | Operation;

export function isFault(action: Action): action is Fault {
  return (FAULTS as readonly string[]).includes(action) || (CLUSTER_FAULTS as readonly string[]).includes(action);
}

/** Which worker of a cluster a worker fault hits; the harness resolves the role when the step runs. */
export type WorkerRole = "leader" | "follower";

export interface Step {
  /** Seconds after the pipelines were created; the step starts no earlier (an earlier slow step delays it). */
  at: number;
  action: Action;
  pipeline?: string;
  /** Down time in seconds, new parallelism, batch size or guarantee, depending on the action. */
  value?: number | string;
  /** Cluster mode: the worker that `worker-kill`, `worker-restart` and `worker-freeze` hit. */
  target?: WorkerRole;
}

export interface ScheduleOptions {
  seed: number;
  /** Length of the fault phase. */
  seconds: number;
  pipelines: readonly PipelineSpec[];
  /** Actions that may be drawn (default: all). */
  actions?: readonly Action[];
  /** Shortest and longest pause between two steps. */
  gap?: readonly [number, number];
  /** Number of workers of a cluster (at least 2); absent: one standalone worker and no cluster faults. */
  cluster?: number;
}

const WEIGHTS: Readonly<Record<Action, number>> = {
  "worker-kill": 3,
  "worker-restart": 2,
  "broker-kill": 2,
  "broker-restart": 1,
  "topic-unload": 3,
  "db-connections-killed": 3,
  "db-unavailable": 1,
  "poison-record": 2,
  "sink-stop": 1,
  "sink-start": 0,
  "sink-restart": 2,
  "source-stop": 1,
  "source-start": 0,
  "source-restart": 2,
  "sink-parallelism": 2,
  "sink-batch-size": 1,
  guarantee: 1,
  "sink-recreate": 1,
  "source-recreate": 1,
  "worker-freeze": 3,
  "worker-join": 1,
  "worker-leave": 2,
};

const GUARANTEES: readonly Guarantee[] = ["ATMOST_ONCE", "ATLEAST_ONCE", "EFFECTIVELY_ONCE"];

/** Parses `pg-eo,sqlite-al,...` (store pg|sqlite, guarantee am|al|eo). */
export function parsePipelines(list: string): PipelineSpec[] {
  const guarantees: Record<string, Guarantee> = { am: "ATMOST_ONCE", al: "ATLEAST_ONCE", eo: "EFFECTIVELY_ONCE" };
  const stores: Record<string, Store> = { pg: "postgres", sqlite: "sqlite" };
  const seen = new Map<string, number>();
  return list
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")
    .map((item) => {
      const [store, guarantee] = item.split("-");
      const s = stores[store ?? ""];
      const g = guarantees[guarantee ?? ""];
      if (!s || !g) {
        throw new Error(`--pipelines: ${JSON.stringify(item)} is not <pg|sqlite>-<am|al|eo> (e.g. pg-eo)`);
      }
      const n = (seen.get(item) ?? 0) + 1;
      seen.set(item, n);
      return { id: n === 1 ? item : `${item}${n}`, store: s, guarantee: g };
    });
}

export function parseActions(list: string, cluster = false): Action[] {
  const all: readonly string[] = [...FAULTS, ...(cluster ? CLUSTER_FAULTS : []), ...OPERATIONS];
  if (!cluster) {
    const clusterOnly = list.split(",").filter((item) => (CLUSTER_FAULTS as readonly string[]).includes(item.trim()));
    if (clusterOnly.length > 0) throw new Error(`--actions: ${clusterOnly.join(", ")} need --cluster`);
  }
  const actions = list
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  const unknown = actions.filter((action) => !all.includes(action));
  if (unknown.length > 0) throw new Error(`--actions: unknown ${unknown.join(", ")}; known: ${all.join(", ")}`);
  return actions as Action[];
}

/**
 * Draws the steps of one run from the seed. A model of what the user has started and stopped keeps the steps
 * meaningful (a stopped sink is started again later, never stopped twice).
 */
export function generateSchedule(options: ScheduleOptions): Step[] {
  const random = new Random(options.seed);
  const cluster = options.cluster ?? 0;
  const allowed = new Set<Action>(
    options.actions ?? [...FAULTS, ...(cluster > 0 ? CLUSTER_FAULTS : []), ...OPERATIONS],
  );
  if (cluster === 0) for (const action of CLUSTER_FAULTS) allowed.delete(action);
  // Cluster mode: one frozen worker at a time (the others lead and run its instances), and whether the 4th is in.
  let frozenUntil = 0;
  let extraJoined = false;
  const [minGap, maxGap] = options.gap ?? [4, 12];
  const state = new Map(
    options.pipelines.map((p) => [
      p.id,
      { guarantee: p.guarantee, sinkUp: true, sourceUp: true, parallelism: 1, batchSize: 200 },
    ]),
  );
  const steps: Step[] = [];
  let at = random.int(minGap, maxGap);
  while (at < options.seconds) {
    const pipeline = random.pick(options.pipelines);
    const current = state.get(pipeline.id) as NonNullable<ReturnType<typeof state.get>>;
    // What the user stopped comes back before anything else happens to that pipeline, most of the time.
    const candidates: Array<readonly [Action, number]> = [];
    if (!current.sinkUp) candidates.push(["sink-start", 6]);
    if (!current.sourceUp) candidates.push(["source-start", 6]);
    for (const [action, weight] of Object.entries(WEIGHTS) as Array<[Action, number]>) {
      if (weight === 0 || !allowed.has(action)) continue;
      if (action.startsWith("sink-") && !current.sinkUp) continue;
      if (action.startsWith("source-") && !current.sourceUp) continue;
      // A recreated generator makes the same record ids again: new records under the same identity.
      if (action === "source-recreate" && current.guarantee === "ATMOST_ONCE") continue;
      if (action === "guarantee" && (!current.sinkUp || !current.sourceUp)) continue;
      const workerFault = action === "worker-kill" || action === "worker-restart" || action === "worker-freeze";
      if (cluster > 0 && workerFault && at < frozenUntil) continue;
      if (action === "worker-join" && extraJoined) continue;
      if (action === "worker-leave" && !extraJoined) continue;
      candidates.push([action, weight]);
    }
    const filtered = candidates.filter(([action]) => allowed.has(action) || action.endsWith("-start"));
    if (filtered.length === 0) {
      at += random.int(minGap, maxGap);
      continue;
    }
    const action = random.weighted(filtered);
    const step: Step = { at, action };
    if (!isFault(action) || action === "topic-unload" || action === "poison-record") step.pipeline = pipeline.id;
    if (action === "db-connections-killed" || action === "db-unavailable") {
      const onPostgres = options.pipelines.filter((p) => p.store === "postgres");
      if (onPostgres.length > 0) step.pipeline = random.pick(onPostgres).id;
    }
    switch (action) {
      case "broker-kill":
      case "worker-kill":
        step.value = random.int(1, 8);
        break;
      case "worker-restart":
        if (cluster > 0) step.value = random.int(1, 8);
        break;
      case "db-unavailable":
        step.value = 30;
        break;
      case "worker-freeze":
        step.value = random.int(5, 60);
        frozenUntil = at + step.value;
        break;
      case "worker-join":
        extraJoined = true;
        break;
      case "worker-leave":
        extraJoined = false;
        break;
      case "sink-stop":
        current.sinkUp = false;
        break;
      case "sink-start":
        current.sinkUp = true;
        break;
      case "source-stop":
        current.sourceUp = false;
        break;
      case "source-start":
        current.sourceUp = true;
        break;
      case "sink-parallelism": {
        const choices = [1, 2, 3].filter((n) => n !== current.parallelism);
        current.parallelism = random.pick(choices);
        step.value = current.parallelism;
        break;
      }
      case "sink-batch-size":
        current.batchSize = random.pick([1, 7, 50, 200, 1000].filter((n) => n !== current.batchSize));
        step.value = current.batchSize;
        break;
      case "guarantee": {
        current.guarantee = random.pick(GUARANTEES.filter((g) => g !== current.guarantee));
        step.value = current.guarantee;
        break;
      }
      default:
        break;
    }
    if (cluster > 0 && (action === "worker-kill" || action === "worker-restart" || action === "worker-freeze")) {
      step.target = random.pick(["leader", "follower"] as const);
    }
    if ((action === "db-connections-killed" || action === "db-unavailable") && step.pipeline === undefined) {
      at += random.int(minGap, maxGap);
      continue;
    }
    steps.push(step);
    at += random.int(minGap, maxGap) + (action === "db-unavailable" ? 30 : 0);
  }
  return steps;
}

export function describeStep(step: Step): string {
  const parts = [`t+${String(step.at).padStart(4)}s`, step.action.padEnd(22)];
  if (step.target) parts.push(step.target);
  if (step.pipeline) parts.push(step.pipeline);
  if (step.value !== undefined) {
    const unit = step.action === "broker-kill" || step.action.startsWith("worker") || step.action === "db-unavailable";
    parts.push(
      step.action === "worker-freeze" ? `${step.value}s frozen` : unit ? `${step.value}s down` : String(step.value),
    );
  }
  return parts.join("  ");
}
