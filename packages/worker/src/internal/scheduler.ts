import { hostname } from "node:os";

/** One instance of a connector, as the scheduler places it. */
export interface InstanceRef {
  kind: "sink" | "source";
  tenant: string;
  namespace: string;
  name: string;
  instanceId: number;
}

/**
 * Decides which instances this worker runs. The connector manager starts an instance that is desired running only
 * where `runsHere` says so, and re-applies every connector when the placement changes.
 */
export interface Scheduler {
  /** Whether this worker runs the instance. */
  runsHere(instance: InstanceRef): boolean;
  /** Calls `listener` after the placement changed; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /**
   * Whether instances that no longer run here stop at once instead of draining: in a cluster, when this worker's own
   * lease lapsed and another worker may be running them already.
   */
  mustStopAtOnce?(): boolean;
}

/** A single worker: every instance runs here, and the placement never changes. */
export class StandaloneScheduler implements Scheduler {
  runsHere(_instance: InstanceRef): boolean {
    return true;
  }

  onChange(_listener: () => void): () => void {
    return () => undefined;
  }
}

/** A worker as upstream's `/admin/v2/worker/cluster` lists it. */
export interface WorkerInfo {
  workerId: string;
  workerHostname: string;
  port: number;
}

/**
 * What the scheduler knows of the cluster, as the `/admin/v2/worker/*` endpoints and `pulsar-connect cluster status`
 * show it. A standalone worker is a cluster of one that leads itself.
 */
export interface ClusterView {
  /** The workers that are members now, this one included. */
  workers(): WorkerInfo[];
  /** The worker that assigns instances, when one is known. */
  leader(): WorkerInfo | undefined;
  /** workerId -> the instances it runs, each as `tenant/namespace/name:instanceId`. */
  assignments(): Record<string, string[]>;
  /** Spreads the instances evenly over the workers again (leader only); without it rebalance is refused. */
  rebalance?(): Promise<void>;
  /** Moves every instance off `workerId` (leader only); without it drain is refused. */
  drain?(workerId: string): Promise<void>;
  /** How the last drain of `workerId` went; NOT_RUN when none was asked for. */
  drainStatus?(workerId: string): DrainStatus;
}

/** Upstream's answer when a rebalance or drain has fewer than two workers to move instances between. */
export const TOO_FEW_WORKERS = "Too few workers (need at least 2)";

/** Upstream's `LongRunningProcessStatus`, as `GET /admin/v2/worker/drain` answers it. */
export interface DrainStatus {
  status: "NOT_RUN" | "RUNNING" | "SUCCESS" | "ERROR";
  lastError: string;
}

/** `tenant/namespace/name:instanceId`, as upstream names an assigned instance. */
export function instanceName(instance: InstanceRef): string {
  return `${instance.tenant}/${instance.namespace}/${instance.name}:${instance.instanceId}`;
}

/** What the standalone view reads from the connector manager. */
export interface InstancesHere {
  /** `host:port`, as instance status shows it. */
  readonly workerId: string;
  /** The instances this worker runs now (waiting to restart included). */
  instancesHere(): InstanceRef[];
}

/**
 * A standalone worker as upstream shows a cluster of one: it is the only member, leads itself, and is assigned the
 * instances it runs. Like upstream, a worker with no instance has no entry in `assignments()`.
 */
export class StandaloneClusterView implements ClusterView {
  private readonly url: () => string;
  private readonly manager: InstancesHere;

  /** `url` is the worker's admin URL (known once it listens). */
  constructor(url: () => string, manager: InstancesHere) {
    this.url = url;
    this.manager = manager;
  }

  self(): WorkerInfo {
    const url = new URL(this.url());
    const address = url.hostname.replace(/^\[|\]$/g, "");
    // A worker listening on every address is reached by its host name.
    const workerHostname = address === "0.0.0.0" || address === "::" ? hostname() : address;
    return { workerId: this.manager.workerId, workerHostname, port: Number(url.port) };
  }

  workers(): WorkerInfo[] {
    return [this.self()];
  }

  leader(): WorkerInfo {
    return this.self();
  }

  assignments(): Record<string, string[]> {
    const instances = this.manager.instancesHere().map(instanceName);
    return instances.length === 0 ? {} : { [this.manager.workerId]: instances };
  }
}

/** The scheduler's own view when it keeps one (cluster mode); otherwise `standalone()`. */
export function clusterViewOf(scheduler: Scheduler, standalone: () => ClusterView): ClusterView {
  const view = scheduler as Partial<ClusterView>;
  return typeof view.workers === "function" &&
    typeof view.leader === "function" &&
    typeof view.assignments === "function"
    ? (scheduler as Scheduler & ClusterView)
    : standalone();
}
