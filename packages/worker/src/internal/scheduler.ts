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
}

/** `tenant/namespace/name:instanceId`, as upstream names an assigned instance. */
export function instanceName(instance: InstanceRef): string {
  return `${instance.tenant}/${instance.namespace}/${instance.name}:${instance.instanceId}`;
}
