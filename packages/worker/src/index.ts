export { WorkerError, type WorkerErrorCode, type WorkerErrorOptions } from "./errors.ts";
export { fetchArchive } from "./internal/archive-fetch.ts";
export { type AuthOptions, signToken } from "./internal/auth.ts";
export { type InstanceMetrics, renderMetrics } from "./internal/metrics.ts";
export { ConnectorPackages, type InstalledPackage, type PackageSettings } from "./internal/packages.ts";
export type { BackoffPolicy } from "./internal/supervisor.ts";
export {
  type InstanceFactory,
  type LogDestination,
  type PackageUploaders,
  type PulsarClientHandle,
  Worker,
  type WorkerOptions,
} from "./worker.ts";
