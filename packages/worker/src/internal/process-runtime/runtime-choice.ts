import type { FieldIssue, Logger } from "@pulsar-connect/core/host";
import type { PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import {
  type DiscoveredConnector,
  heapLimitMiB,
  type InstanceRuntime,
  MIN_PROCESS_RAM_BYTES,
  parseCustomRuntimeOptions,
  parseRuntimeFlags,
  type ResolvedSinkConfig,
  type ResolvedSourceConfig,
} from "@pulsar-connect/runtime";
import { ProcessInstance } from "./process-instance.ts";
import type { PulsarAuthSettings } from "./protocol.ts";

type ResolvedConfig = ResolvedSinkConfig | ResolvedSourceConfig;

/** Where a connector's instances run: its `customRuntimeOptions` runtime, else the worker's (in-process by default). */
export function runtimeOf(config: ResolvedConfig, workerRuntime: InstanceRuntime | undefined): InstanceRuntime {
  return parseCustomRuntimeOptions(config.customRuntimeOptions).runtime ?? workerRuntime ?? "in-process";
}

/** Runtime settings of a connector that its runtime cannot honour, each naming its field. */
export function runtimeIssues(config: ResolvedConfig, runtime: InstanceRuntime, packaged: boolean): FieldIssue[] {
  if (runtime === "in-process") {
    return parseRuntimeFlags(config.runtimeFlags).flags.length === 0
      ? []
      : [
          {
            path: "runtimeFlags",
            message:
              'is not supported by the in-process runtime (instances share the worker\'s Node process); run the connector in the process runtime with customRuntimeOptions {"runtime":"process"}',
          },
        ];
  }
  const issues: FieldIssue[] = [];
  if (!packaged) {
    issues.push({
      path: "customRuntimeOptions.runtime",
      message: "the connector was registered without a package: it can only run in-process",
    });
  }
  const ram = config.resources?.ram;
  if (typeof ram === "number" && ram > 0 && ram < MIN_PROCESS_RAM_BYTES) {
    issues.push({
      path: "resources.ram",
      message: `${ram} bytes is below the process runtime's minimum heap of ${MIN_PROCESS_RAM_BYTES} bytes (32 MiB)`,
    });
  }
  return issues;
}

/** What the worker hands over to run one instance in its own process. */
export interface ProcessLaunch {
  kind: "sink" | "source";
  instanceId: number;
  connector: DiscoveredConnector & { entryModule: string };
  /** The module of a sink's transform function, when it has one. */
  transformModule: string | undefined;
  /** The config with its secrets resolved. */
  config: ResolvedConfig;
  /** Client options without functions (they cross a process boundary). */
  client: PulsarClientOptions;
  adminUrl: string;
  auth: PulsarAuthSettings;
  workerId: string;
  heartbeatTimeoutMs: number | undefined;
  logger: Logger;
}

/** An instance in a Node process of its own, with `resources.ram` as heap limit and `runtimeFlags` as Node flags. */
export function createProcessInstance(launch: ProcessLaunch): ProcessInstance {
  const { config } = launch;
  const ram = config.resources?.ram;
  const heapLimit = typeof ram === "number" && ram > 0 ? heapLimitMiB(ram) : undefined;
  return new ProcessInstance({
    spec: {
      kind: launch.kind,
      instanceId: launch.instanceId,
      entryModule: launch.connector.entryModule,
      transformModule: launch.transformModule,
      config,
      pulsar: { client: launch.client, adminUrl: launch.adminUrl, auth: launch.auth },
      workerId: launch.workerId,
      reportIntervalMs: Math.min(1_000, Math.floor((launch.heartbeatTimeoutMs ?? 10_000) / 4)),
    },
    execArgv: [
      ...(heapLimit === undefined ? [] : [`--max-old-space-size=${heapLimit}`]),
      ...parseRuntimeFlags(config.runtimeFlags).flags,
    ],
    logger: launch.logger,
    heapLimitMiB: heapLimit,
    ...(launch.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: launch.heartbeatTimeoutMs }),
  });
}
