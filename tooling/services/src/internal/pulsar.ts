import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, renderTemplate } from "./config.ts";
import { ServicesError } from "./errors.ts";
import type { JvmServer } from "./jvm.ts";
import { template } from "./jvm.ts";
import { httpGet } from "./probe.ts";

const JVM_FLAGS = [
  "-Xms512m",
  "-Xmx1g",
  "-XX:MaxDirectMemorySize=512m",
  "-XX:+UseG1GC",
  "-XX:+ExitOnOutOfMemoryError",
  "-Dpulsar.allocator.exit_on_oom=true",
  "-Djute.maxbuffer=10485760",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Dorg.apache.pulsar.shade.io.netty.tryReflectionSetAccessible=true",
  "-Dio.netty.recycler.maxCapacity.default=1000",
  "-Dio.netty.recycler.linkCapacity=1024",
  "--add-opens=java.base/java.io=ALL-UNNAMED",
  "--add-opens=java.base/java.lang=ALL-UNNAMED",
  "--add-opens=java.base/java.nio=ALL-UNNAMED",
  "--add-opens=java.base/java.util=ALL-UNNAMED",
  "--add-opens=java.base/java.util.zip=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.platform=ALL-UNNAMED",
  "--add-opens=java.base/sun.net=ALL-UNNAMED",
  "--add-opens=java.management/sun.management=ALL-UNNAMED",
  "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
  "-Dlog4j2.is.webapp=false",
  // The starter's own shutdown hook shuts log4j down after the broker.
  "-Dlog4j.shutdownHookEnabled=false",
];

/**
 * How much of what the broker acknowledged survives a kill -9.
 * - "fast" (default): the bookie journal is not synced before a write is acknowledged. Fine for servers that are only
 *   ever stopped gracefully (the shared test servers).
 * - "durable": the journal is synced before each acknowledgement, so everything acknowledged survives a kill -9 of
 *   the broker. The metadata store (RocksDB under the data dir) syncs every write in both modes. Fault tests that
 *   kill the broker use this one; otherwise lost entries would be blamed on the client.
 */
export type PulsarDurability = "fast" | "durable";

/** The durability asked for by `PULSAR_DURABILITY` ("fast" when unset). */
export function pulsarDurability(env: NodeJS.ProcessEnv = process.env): PulsarDurability {
  const value = env.PULSAR_DURABILITY ?? "fast";
  if (value === "fast" || value === "durable") return value;
  throw new ServicesError("INVALID_ENV", `PULSAR_DURABILITY must be "fast" or "durable", not ${JSON.stringify(value)}`);
}

export function renderPulsarConfig(
  ports: { broker: number; web: number },
  durability: PulsarDurability = "fast",
): string {
  return renderTemplate(template("pulsar", "standalone.conf"), {
    HOST,
    BROKER_PORT: ports.broker,
    WEB_PORT: ports.web,
    JOURNAL_SYNC_DATA: durability === "durable" ? "true" : "false",
  });
}

export const pulsarServer: JvmServer<"pulsar"> = {
  name: "pulsar",
  readyTimeoutMs: 180_000,
  boundPorts: (ports) => [
    { port: ports.broker, variable: "PULSAR_BROKER_PORT" },
    { port: ports.web, variable: "PULSAR_WEB_PORT" },
    { port: ports.bookie, variable: "PULSAR_BOOKIE_PORT" },
  ],
  endpoint: (ports) => ({
    host: HOST,
    port: ports.broker,
    webPort: ports.web,
    bookiePort: ports.bookie,
    serviceUrl: `pulsar://${HOST}:${ports.broker}`,
    webServiceUrl: `http://${HOST}:${ports.web}`,
  }),
  prepare(run, ports) {
    writeFileSync(join(run.confDir, "standalone.conf"), renderPulsarConfig(ports, pulsarDurability()));
    writeFileSync(join(run.confDir, "log4j2.xml"), template("pulsar", "log4j2.xml"));
  },
  launch(run, ports) {
    return {
      mainClass: "org.apache.pulsar.PulsarStandaloneStarter",
      jvmArgs: [...JVM_FLAGS, `-Dlog4j.configurationFile=${join(run.confDir, "log4j2.xml")}`],
      args: [
        "--config",
        join(run.confDir, "standalone.conf"),
        "--no-functions-worker",
        "--no-stream-storage",
        "--metadata-dir",
        join(run.dataDir, "metadata"),
        "--bookkeeper-dir",
        join(run.dataDir, "bookkeeper"),
        "--bookkeeper-port",
        String(ports.bookie),
      ],
    };
  },
  async healthy(ports) {
    // public/default is the last thing the standalone creates; the transaction coordinator topic comes with it
    // only when transactions are on, and clients fail to open transactions before it exists.
    const base = `http://${HOST}:${ports.web}/admin/v2`;
    const namespaces = await httpGet(`${base}/namespaces/public`);
    if (namespaces?.status !== 200 || !namespaces.body.includes('"public/default"')) return false;
    const tc = await httpGet(`${base}/persistent/pulsar/system/transaction_coordinator_assign/partitions`);
    return tc?.status === 200;
  },
};
