// One source instance through the runtime in a process of its own, so that a crash test can SIGKILL it. Settings
// come as JSON in PC_SOURCE_PROCESS (see SourceProcessSettings). With `killAtSend: n` the process kills itself with
// SIGKILL at its n-th Pulsar send while that send's receipt is pending: the record was read from the external system,
// not yet acknowledged there, and may or may not be stored in Pulsar.
import { writeSync } from "node:fs";
import type { LogFields, Logger, SourceDefinition } from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSourceConfig } from "@pulsar-connect/runtime";
import { killingClient } from "@pulsar-connect/runtime/testing";

/** What the parent passes to a source process. */
export interface SourceProcessSettings {
  /** Module whose default export is the source definition (a path or a file: URL). */
  connectorModule: string;
  configs: Record<string, unknown>;
  secrets: Record<string, string>;
  serviceUrl: string;
  adminUrl: string;
  /** The output topic; sources that choose their topics per record (CDC) write under `tenant`/`namespace`. */
  topic: string;
  tenant?: string;
  namespace?: string;
  name: string;
  guarantee: "ATMOST_ONCE" | "ATLEAST_ONCE" | "EFFECTIVELY_ONCE";
  killAtSend?: number;
}

const raw = process.env.PC_SOURCE_PROCESS;
if (raw === undefined) throw new Error("PC_SOURCE_PROCESS is not set");
const settings = JSON.parse(raw) as SourceProcessSettings;
const definition = ((await import(settings.connectorModule)) as { default: SourceDefinition }).default;

const resolved = resolveSourceConfig({
  name: settings.name,
  ...(settings.tenant === undefined ? {} : { tenant: settings.tenant }),
  ...(settings.namespace === undefined ? {} : { namespace: settings.namespace }),
  archive: `builtin://${definition.name}`,
  topicName: settings.topic,
  processingGuarantees: settings.guarantee,
  configs: settings.configs,
  secrets: settings.secrets,
});
if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
const stderrLogger = (bindings: LogFields): Logger => {
  const line = (level: string) => (fields: LogFields | string, message?: string) => {
    const data = typeof fields === "string" ? { msg: fields } : { ...bindings, ...fields, msg: message };
    writeSync(
      2,
      `source process ${level}: ${JSON.stringify(data, (_, v) => (typeof v === "bigint" ? String(v) : v))}\n`,
    );
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
const pulsarClient = settings.killAtSend === undefined ? client : killingClient(client, settings.killAtSend);
const instance = createInstance({
  kind: "source",
  config: resolved.value,
  definition,
  instanceId: 0,
  pulsar: { client: pulsarClient, adminUrl: settings.adminUrl },
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
await instance.done.then(
  async () => {
    await client.close();
    process.exit(0);
  },
  (error: unknown) => {
    writeSync(2, `source process failed: ${String(error)}\n`);
    process.exit(1);
  },
);
