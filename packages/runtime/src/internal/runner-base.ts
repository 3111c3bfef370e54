import { type ConnectorContext, type Logger, type StateStore, toConnectorError } from "@pulsar-connect/core/host";
import { InstanceStats } from "../stats.ts";
import { baseContext } from "./context.ts";

/** Identity and settings every instance needs for its context. */
export interface RunnerIdentity {
  tenant: string;
  namespace: string;
  name: string;
  parallelism: number;
  secrets: Record<string, unknown>;
}

/**
 * Lifecycle shared by source and sink instances: start, graceful stop, fatal errors, and the `done` promise the
 * supervisor watches.
 */
export abstract class RunnerBase {
  readonly instanceId: number;
  readonly stats: InstanceStats = new InstanceStats();
  readonly done: Promise<void>;

  protected readonly abort: AbortController = new AbortController();
  protected readonly logger: Logger;
  protected running = false;
  protected stopping = false;
  protected error = "";
  protected state = "starting";
  protected fatalError: unknown;
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;

  constructor(instanceId: number, logger: Logger) {
    this.instanceId = instanceId;
    this.logger = logger;
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // `done` is observed by the supervisor; never let it count as an unhandled rejection.
    this.done.catch(() => {});
  }

  /** Wakes whatever the instance's loops wait on, so they notice `stopping`. */
  protected abstract wake(): void;

  /** Closes the connector and the Pulsar clients of the instance. */
  protected abstract cleanup(): Promise<void>;

  /** Graceful stop: stop pulling, finish in-flight work, ack, close. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.state = "stopping";
      this.abort.abort();
      this.wake();
    }
    await this.done.catch(() => {});
  }

  /** Forced stop: closes the connector and the Pulsar handles now, without waiting for in-flight work. */
  async forceStop(): Promise<void> {
    this.stopping = true;
    this.state = "stopping";
    this.abort.abort();
    this.wake();
    await this.cleanup();
  }

  /** Ends the instance with `error` (the connector's `fatal`, or a failure of the runtime itself). */
  protected fail(error: unknown): void {
    if (this.fatalError === undefined) this.fatalError = error ?? new Error("fatal");
    this.stopping = true;
    this.abort.abort();
    this.wake();
  }

  /** Runs `open`; when it throws, cleans up, records the error and rejects both `start` and `done`. */
  protected async opening(open: () => Promise<void>): Promise<void> {
    try {
      await open();
    } catch (error) {
      await this.cleanup();
      const wrapped = toConnectorError(error);
      this.error = wrapped.message;
      this.rejectDone(wrapped);
      throw wrapped;
    }
    this.running = true;
    this.state = "running";
  }

  /** Ends the instance after its loop returned: cleans up and settles `done`. */
  protected async finish(): Promise<void> {
    this.running = false;
    await this.cleanup();
    if (this.fatalError !== undefined) {
      const wrapped = toConnectorError(this.fatalError, "FATAL");
      this.error = wrapped.message;
      this.state = "failed";
      this.rejectDone(wrapped);
    } else {
      if (this.state === "stopping" || this.state === "running") this.state = "stopped";
      this.resolveDone();
    }
  }

  /** The context fields shared by sources and sinks. */
  protected connectorContext(identity: RunnerIdentity, state: StateStore): ConnectorContext {
    return baseContext({
      tenant: identity.tenant,
      namespace: identity.namespace,
      name: identity.name,
      instanceId: this.instanceId,
      numInstances: identity.parallelism,
      logger: this.logger,
      signal: this.abort.signal,
      secrets: identity.secrets,
      state,
      stats: this.stats,
      fatal: (error) => this.fail(error),
    });
  }
}
