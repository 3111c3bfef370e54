import { Worker as Thread } from "node:worker_threads";
import type { PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import type { PulsarAuthSettings } from "../process-runtime/protocol.ts";
import type { HeartbeatChannel, HeartbeatTarget, HeartbeatTiming } from "./heartbeat-channel.ts";
import {
  type FromHeartbeatThread,
  type HeartbeatThreadData,
  SHARED_BYTES,
  SHARED_SLOTS,
  sharedNowUs,
  type ToHeartbeatThread,
} from "./heartbeat-thread-protocol.ts";

const THREAD_MODULE = new URL(
  import.meta.url.endsWith(".ts") ? "./heartbeat-thread.ts" : "./heartbeat-thread.mjs",
  import.meta.url,
);

/**
 * How long the heartbeat thread keeps renewing the lease after the main thread last said it is alive, in leases.
 * Stalls of the main loop shorter than this (measured: several seconds at saturation on shared cores) keep the
 * instances where they are; a main thread wedged for longer is dropped by the others within this plus one lease.
 */
export const MAIN_SILENCE_LEASES = 2;

/** Settings of a {@link ThreadHeartbeatChannel}. */
export interface ThreadHeartbeatSettings {
  /** Pulsar connection settings as plain data. */
  client: Omit<PulsarClientOptions, "authentication">;
  /** The worker's Pulsar credentials, from which the thread builds its authentication. */
  auth: PulsarAuthSettings;
  /** Warnings of the thread (a failed heartbeat), and its end when it fails. */
  onWarning: (message: string) => void;
}

/**
 * Heartbeats sent from a worker thread of their own on a Pulsar connection of their own. The main thread ticks
 * through shared memory (no message to wait for on a busy loop) and reads when the lease was last renewed from it.
 */
export class ThreadHeartbeatChannel implements HeartbeatChannel {
  private readonly settings: ThreadHeartbeatSettings;
  private readonly shared = new BigInt64Array(new SharedArrayBuffer(SHARED_BYTES));
  private thread: Thread | undefined;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private posted = "";
  private failure: Error | undefined;

  constructor(settings: ThreadHeartbeatSettings) {
    this.settings = settings;
  }

  open(target: HeartbeatTarget, timing: HeartbeatTiming): Promise<void> {
    this.alive();
    const workerData: HeartbeatThreadData = {
      client: this.settings.client,
      auth: this.settings.auth,
      timing,
      mainSilenceMs: timing.leaseMs * MAIN_SILENCE_LEASES,
      shared: this.shared.buffer as SharedArrayBuffer,
    };
    // Sources of the monorepo load through their export condition; a built worker's thread inherits its flags.
    const fromSource = THREAD_MODULE.pathname.endsWith(".ts")
      ? { execArgv: [...process.execArgv, "--conditions=@pulsar-connect/source"] }
      : {};
    const thread = new Thread(THREAD_MODULE, { workerData, ...fromSource });
    this.thread = thread;
    // Like the worker's other handles, the thread does not keep the process alive by itself.
    thread.unref();
    thread.on("message", (message: FromHeartbeatThread) => {
      if (message.type === "warn") {
        this.settings.onWarning(message.message);
        return;
      }
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.error === undefined) waiter?.resolve();
      else waiter?.reject(new Error(message.error));
    });
    const fail = (error: Error) => {
      // The lease is no longer renewed: the worker stops its instances and the others take them over.
      this.failure = error;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
      this.settings.onWarning(`the heartbeat thread ended: ${error.message}`);
    };
    thread.on("error", fail);
    thread.on("exit", (code) => {
      if (!this.failure) fail(new Error(`exit code ${code}`));
    });
    return this.request((id) => ({ type: "open", id, target }));
  }

  update(value: string): void {
    if (value === this.posted || this.failure) return;
    this.posted = value;
    this.thread?.postMessage({ type: "update", value } satisfies ToHeartbeatThread);
  }

  alive(): void {
    Atomics.store(this.shared, SHARED_SLOTS.mainAliveAt, sharedNowUs());
  }

  sendNow(value: string): Promise<void> {
    this.posted = value;
    this.alive();
    return this.request((id) => ({ type: "send", id, value }));
  }

  renewedAt(): number {
    const renewedUs = Atomics.load(this.shared, SHARED_SLOTS.renewedAt);
    // On the main thread's performance.now() clock, which the scheduler uses.
    return renewedUs === 0n ? 0 : Number(renewedUs) / 1000 - performance.timeOrigin;
  }

  lapses(): number {
    return Number(Atomics.load(this.shared, SHARED_SLOTS.lapses));
  }

  async close(last: string[] = []): Promise<void> {
    if (!this.failure) {
      this.alive();
      await this.request((id) => ({ type: "close", id, last })).catch(() => undefined);
      this.failure = new Error("closed");
    }
    await this.thread?.terminate();
  }

  private request(message: (id: number) => ToHeartbeatThread): Promise<void> {
    const thread = this.thread;
    if (this.failure || !thread) return Promise.reject(this.failure ?? new Error("the heartbeat channel is not open"));
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      thread.postMessage(message(id));
    });
  }
}
