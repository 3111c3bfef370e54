import type { ConnectorContext, Logger, StateStore } from "@pulsar-connect/core/host";
import type { InstanceStats } from "../stats.ts";

/** Resolves a secret declared in a connector's `secrets` map: a string as it is, `{ env: "VAR" }` from the environment. */
export function secretResolver(secrets: Record<string, unknown>): (name: string) => string | undefined {
  return (name) => {
    const entry = secrets[name];
    if (entry === undefined || entry === null) return undefined;
    if (typeof entry === "string") return entry;
    if (typeof entry === "object") {
      const spec = entry as { env?: unknown; value?: unknown };
      if (typeof spec.env === "string") return process.env[spec.env];
      if (typeof spec.value === "string") return spec.value;
    }
    return String(entry);
  };
}

/** Builds the context fields shared by sources and sinks. */
export function baseContext(options: {
  tenant: string;
  namespace: string;
  name: string;
  instanceId: number;
  numInstances: number;
  logger: Logger;
  signal: AbortSignal;
  secrets: Record<string, unknown>;
  state: StateStore;
  stats: InstanceStats;
  fatal: (error: unknown) => void;
}): ConnectorContext {
  return {
    tenant: options.tenant,
    namespace: options.namespace,
    name: options.name,
    instanceId: options.instanceId,
    numInstances: options.numInstances,
    logger: options.logger,
    signal: options.signal,
    getSecret: secretResolver(options.secrets),
    state: options.state,
    recordMetric: (metric, value) => options.stats.recordUserMetric(metric, value),
    fatal: options.fatal,
  };
}
