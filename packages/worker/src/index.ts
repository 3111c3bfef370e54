export { WorkerError, type WorkerErrorCode, type WorkerErrorOptions } from "./errors.ts";
export { type AuthOptions, signToken } from "./internal/auth.ts";
export { type InstanceMetrics, renderMetrics } from "./internal/metrics.ts";
export type { BackoffPolicy } from "./internal/supervisor.ts";
export {
  type InstanceFactory,
  type LogDestination,
  type PulsarClientHandle,
  Worker,
  type WorkerOptions,
} from "./worker.ts";
