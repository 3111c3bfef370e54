// One sink instance through the runtime in a process of its own, so that the conformance suite can SIGKILL it.
// Settings come as JSON in PC_SINK_PROCESS (see SinkProcessSettings). With `killAfterWrite: k`, the process kills
// itself with SIGKILL as soon as its k-th write has returned (the batch is stored) and before the runtime can
// acknowledge it: the most dangerous point for duplicates and losses.
import { writeSync } from "node:fs";
import type { LogFields, Logger, SinkDefinition } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";

/** What the parent passes to a sink process. */
export interface SinkProcessSettings {
  /** Module whose default export is the sink definition (a path or a file: URL). */
  connectorModule: string;
  configs: Record<string, unknown>;
  secrets: Record<string, string>;
  serviceUrl: string;
  adminUrl: string;
  topic: string;
  subscription: string;
  guarantee: "ATMOST_ONCE" | "ATLEAST_ONCE" | "EFFECTIVELY_ONCE";
  batchSize: number;
  killAfterWrite?: number;
}

const raw = process.env.PC_SINK_PROCESS;
if (raw === undefined) throw new Error("PC_SINK_PROCESS is not set");
const settings = JSON.parse(raw) as SinkProcessSettings;
const connector = ((await import(settings.connectorModule)) as { default: SinkDefinition }).default;

let writes = 0;
const definition = {
  ...connector,
  async open(config, context) {
    const inner = await connector.open(config, context);
    return {
      batching: inner.batching,
      async write(records) {
        const outcome = await inner.write(records);
        writes += 1;
        if (writes === settings.killAfterWrite) {
          writeSync(1, `killing after write ${writes} of ${records.length} records\n`);
          process.kill(process.pid, "SIGKILL");
        }
        return outcome;
      },
      storedPositions: inner.storedPositions?.bind(inner),
      close: () => inner.close(),
    };
  },
} as SinkDefinition;

const resolved = resolveSinkConfig({
  name: settings.subscription,
  archive: `builtin://${connector.name}`,
  inputs: [settings.topic],
  sourceSubscriptionPosition: "Earliest",
  processingGuarantees: settings.guarantee,
  configs: settings.configs,
  secrets: settings.secrets,
});
if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
// Warnings and errors go to stderr, which the parent shows: a sink process that never reaches its kill point says why.
const stderrLogger = (bindings: LogFields): Logger => {
  const line = (level: string) => (fields: LogFields | string, message?: string) => {
    const data = typeof fields === "string" ? { msg: fields } : { ...bindings, ...fields, msg: message };
    writeSync(2, `sink process ${level}: ${JSON.stringify(data, (_, v) => (typeof v === "bigint" ? String(v) : v))}\n`);
  };
  return {
    debug: () => {},
    info: () => {},
    warn: line("warn"),
    error: line("error"),
    child: (more) => stderrLogger({ ...bindings, ...more }),
  };
};
const client = new PulsarClient({ serviceUrl: settings.serviceUrl });
const instance = createInstance({
  kind: "sink",
  config: resolved.value,
  definition,
  instanceId: 0,
  pulsar: { client, adminUrl: settings.adminUrl },
  batchSize: settings.batchSize,
  logger: stderrLogger({}),
});
process.once("SIGTERM", () => {
  void instance.stop().then(async () => {
    await client.close();
    process.exit(0);
  });
});
await instance.start();
writeSync(1, "started\n");
await instance.done;
