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
