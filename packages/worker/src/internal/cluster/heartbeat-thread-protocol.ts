import type { PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import type { PulsarAuthSettings } from "../process-runtime/protocol.ts";
import type { HeartbeatTarget, HeartbeatTiming } from "./heartbeat-channel.ts";

/** Slots of the memory the main thread and the heartbeat thread share, in microseconds since the epoch. */
export const SHARED_SLOTS = {
  /** When the main thread last said it is alive. */
  mainAliveAt: 0,
  /** When the latest stored heartbeat was sent. */
  renewedAt: 1,
  /** How many renewals came after a gap longer than the own lease. */
  lapses: 2,
} as const;
export const SHARED_BYTES: number = 3 * BigInt64Array.BYTES_PER_ELEMENT;

/** What the heartbeat thread starts with. */
export interface HeartbeatThreadData {
  /** Pulsar connection settings as plain data (the thread builds its authentication from `auth`). */
  client: Omit<PulsarClientOptions, "authentication">;
  auth: PulsarAuthSettings;
  timing: HeartbeatTiming;
  /** The thread renews the lease only while the main thread said it is alive less than this long ago. */
  mainSilenceMs: number;
  shared: SharedArrayBuffer;
}

export type ToHeartbeatThread =
  | { type: "open"; id: number; target: HeartbeatTarget }
  | { type: "update"; value: string }
  | { type: "send"; id: number; value: string }
  | { type: "close"; id: number; last: string[] };

export type FromHeartbeatThread = { type: "done"; id: number; error?: string } | { type: "warn"; message: string };

/** Microseconds since the epoch on a monotonic clock, comparable between threads of one process. */
export function sharedNowUs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}
