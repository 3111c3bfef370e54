import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, renderTemplate } from "./config.ts";
import type { JvmServer } from "./jvm.ts";
import { template } from "./jvm.ts";
import { tcpOpen } from "./probe.ts";

// From Cassandra 5.0's jvm17-server.options and jvm-server.options, minus what only matters for production
// (AlwaysPreTouch, NUMA, GC logging).
const JVM_FLAGS = [
  "-Xms1g",
  "-Xmx1g",
  "-Xmn128m",
  "-XX:+UseG1GC",
  "-XX:+ExitOnOutOfMemoryError",
  "-XX:+ParallelRefProcEnabled",
  "-XX:MaxTenuringThreshold=1",
  "-XX:MaxGCPauseMillis=300",
  "-ea",
  "-da:net.openhft...",
  "-Xss256k",
  "-XX:+UseThreadPriorities",
  "-XX:+PerfDisableSharedMem",
  "-Dchronicle.analytics.disable=true",
  "-Djdk.attach.allowAttachSelf=true",
  "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
  "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
  "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
  "--add-exports=java.management/com.sun.jmx.remote.security=ALL-UNNAMED",
  "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
  "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
  "--add-exports=java.sql/java.sql=ALL-UNNAMED",
  "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
  "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
  "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
  "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens=java.base/java.io=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
  "--add-opens=java.base/java.lang=ALL-UNNAMED",
  "--add-opens=java.base/java.util=ALL-UNNAMED",
  "--add-opens=java.base/java.nio=ALL-UNNAMED",
  "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Dio.netty.allocator.useCacheForAllThreads=true",
  "-Dio.netty.allocator.maxOrder=11",
  // Skip the gossip-settle wait and forced system-table flushes: a single throw-away node.
  "-Dcassandra.skip_wait_for_gossip_to_settle=0",
  "-Dcassandra.unsafesystem=true",
  // Without it Cassandra closes stdout/stderr after start-up and the log goes quiet.
  "-Dcassandra-foreground=yes",
];

export function renderCassandraConfig(ports: { native: number; storage: number }, dataDir: string): string {
  return renderTemplate(template("cassandra", "cassandra.yaml"), {
    HOST,
    PORT: ports.native,
    STORAGE_PORT: ports.storage,
    DATA_DIR: dataDir,
  });
}

export const cassandraServer: JvmServer<"cassandra"> = {
  name: "cassandra",
  readyTimeoutMs: 150_000,
  boundPorts: (ports) => [
    { port: ports.native, variable: "CASSANDRA_PORT" },
    { port: ports.storage, variable: "CASSANDRA_STORAGE_PORT" },
  ],
  endpoint: (ports) => ({
    host: HOST,
    port: ports.native,
    storagePort: ports.storage,
    contactPoints: [`${HOST}:${ports.native}`],
    localDataCenter: "datacenter1",
  }),
  prepare(run, ports) {
    writeFileSync(join(run.confDir, "cassandra.yaml"), renderCassandraConfig(ports, run.dataDir));
    writeFileSync(join(run.confDir, "logback.xml"), template("cassandra", "logback.xml"));
  },
  launch(run) {
    // jamm lets Cassandra measure object sizes through instrumentation rather than its slower fallback.
    const jamm = readdirSync(run.lib).find((file) => /jamm-[\d.]+\.jar$/.test(file));
    return {
      mainClass: "org.apache.cassandra.service.CassandraDaemon",
      jvmArgs: [
        ...JVM_FLAGS,
        ...(jamm ? [`-javaagent:${join(run.lib, jamm)}`] : []),
        `-Dcassandra.config=file://${join(run.confDir, "cassandra.yaml")}`,
        `-Dcassandra.storagedir=${run.dataDir}`,
        `-Dcassandra.logdir=${run.logsDir}`,
        `-Dlogback.configurationFile=${join(run.confDir, "logback.xml")}`,
      ],
      args: [],
    };
  },
  async healthy(ports) {
    if (!(await tcpOpen(HOST, ports.native, 500))) return false;
    const { Client } = (await import("cassandra-driver")).default;
    const client = new Client({
      contactPoints: [`${HOST}:${ports.native}`],
      localDataCenter: "datacenter1",
      socketOptions: { connectTimeout: 3_000, readTimeout: 5_000 },
    });
    try {
      const result = await client.execute("SELECT release_version FROM system.local");
      return typeof result.first()?.get("release_version") === "string";
    } finally {
      await client.shutdown().catch(() => {});
    }
  },
};
