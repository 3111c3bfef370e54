import { join } from "node:path";
import type { Random } from "./random.ts";
import type { WorkerRole } from "./schedule.ts";
import { type InstanceStatus, Worker } from "./worker.ts";

export interface ClusterOptions {
  /** The cluster's name (`--cluster`); its topics live in public/default of the harness's broker. */
  name: string;
  /** Workers started at the beginning; a `worker-join` adds one more. */
  size: number;
  /** Admin port of the first worker; the others take the next ones. */
  firstPort: number;
  runDir: string;
  pulsarUrl: string;
  pulsarAdminUrl: string;
  /** Chooses a follower among several when a step hits one (seeded, so a rerun picks alike given alike leaders). */
  random: Random;
}

/**
 * The workers of a cluster as a user runs them: one process each, with its own port and data folder, all joined
 * with `pulsar-connect worker --cluster <name>`. Admin calls go to any worker that answers, in turn.
 */
export class WorkerCluster {
  readonly workers: Worker[];
  /** The worker a `worker-join` adds and a `worker-leave` stops. */
  readonly extra: Worker;
  private readonly frozen = new Set<Worker>();
  /** SIGCONTs still to come (a freeze does not hold the schedule up). */
  private readonly thaws = new Set<Promise<void>>();
  private readonly random: Random;
  private next = 0;

  constructor(options: ClusterOptions) {
    const make = (index: number) =>
      new Worker({
        port: options.firstPort + index,
        dataDir: join(options.runDir, `worker-${index + 1}`),
        logFile: join(options.runDir, `worker-${index + 1}.log`),
        pulsarUrl: options.pulsarUrl,
        pulsarAdminUrl: options.pulsarAdminUrl,
        cluster: options.name,
      });
    this.workers = Array.from({ length: options.size }, (_, index) => make(index));
    this.extra = make(options.size);
    this.random = options.random;
  }

  /** Workers that live and are not frozen, the extra one included while it is in. */
  up(): Worker[] {
    return [...this.workers, this.extra].filter((worker) => worker.alive && !this.frozen.has(worker));
  }

  async start(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.start()));
  }

  /** The next worker that answers, in turn; the first of the cluster when none does (the call then fails). */
  pick(): Worker {
    const up = this.up();
    const worker = up[this.next++ % Math.max(1, up.length)];
    return worker ?? (this.workers[0] as Worker);
  }

  /** The leader as an up worker sees it, or undefined while none is elected (or nobody answers). */
  async leader(): Promise<Worker | undefined> {
    for (const worker of this.up()) {
      const answer = (await worker.get("/admin/v2/worker/cluster/leader", 3_000)) as { port?: number } | undefined;
      if (answer?.port !== undefined) return this.up().find((candidate) => candidate.options.port === answer.port);
    }
    return undefined;
  }

  /**
   * The worker a step hits: the leader (waiting up to 30 s for one to be elected), or a follower chosen among the
   * up workers that do not lead. Undefined when there is none.
   */
  async target(role: WorkerRole): Promise<Worker | undefined> {
    const deadline = Date.now() + 30_000;
    let leader = await this.leader();
    while (!leader && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      leader = await this.leader();
    }
    if (role === "leader") return leader;
    const followers = this.up().filter((worker) => worker !== leader);
    return followers.length === 0 ? undefined : this.random.pick(followers);
  }

  /** SIGSTOP now, SIGCONT after `seconds` (without holding the caller up). */
  freeze(worker: Worker, seconds: number, onThaw: () => void): void {
    worker.freeze();
    this.frozen.add(worker);
    const thaw = new Promise<void>((resolve) =>
      setTimeout(() => {
        worker.thaw();
        this.frozen.delete(worker);
        onThaw();
        resolve();
      }, seconds * 1000),
    );
    this.thaws.add(thaw);
    void thaw.then(() => this.thaws.delete(thaw));
  }

  /** Resolves once every frozen worker got its SIGCONT. */
  async thawed(): Promise<void> {
    await Promise.all([...this.thaws]);
  }

  /** Starts again every worker of the initial set that is not running (after the fault phase). */
  async restoreAll(): Promise<void> {
    await this.thawed();
    for (const worker of this.workers) if (!worker.alive) await worker.start();
  }

  /** Every instance of a connector, with the worker it runs on, from the first up worker that answers. */
  async status(kind: "source" | "sink", name: string): Promise<InstanceStatus[] | undefined> {
    for (const worker of this.up()) {
      const status = await worker.status(kind, name);
      if (status !== undefined) return status;
    }
    return undefined;
  }

  /** Stops every worker: SIGCONT to the frozen ones first, then SIGTERM (killed after `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    for (const worker of this.frozen) worker.thaw();
    this.frozen.clear();
    await Promise.all([...this.workers, this.extra].map((worker) => worker.stop(graceMs).catch(() => undefined)));
  }
}
