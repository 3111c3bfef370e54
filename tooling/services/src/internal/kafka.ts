import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, renderTemplate } from "./config.ts";
import { ServicesError } from "./errors.ts";
import { type JvmRun, type JvmServer, javaArgs, template } from "./jvm.ts";
import { tcpOpen } from "./probe.ts";

export function renderKafkaConfig(ports: { broker: number; controller: number }, dataDir: string): string {
  return renderTemplate(template("kafka", "server.properties"), {
    HOST,
    PORT: ports.broker,
    CONTROLLER_PORT: ports.controller,
    DATA_DIR: dataDir,
  });
}

/** A cluster id the way Kafka makes one: 16 random bytes, base64url without padding, not starting with "-". */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

function commonFlags(run: JvmRun): string[] {
  return [
    `-Dlog4j2.configurationFile=${join(run.confDir, "log4j2.xml")}`,
    `-Dkafka.logs.dir=${run.logsDir}`,
    "-Djava.awt.headless=true",
  ];
}

export const kafkaServer: JvmServer<"kafka"> = {
  name: "kafka",
  readyTimeoutMs: 90_000,
  boundPorts: (ports) => [
    { port: ports.broker, variable: "KAFKA_PORT" },
    { port: ports.controller, variable: "KAFKA_CONTROLLER_PORT" },
  ],
  endpoint: (ports) => ({
    host: HOST,
    port: ports.broker,
    controllerPort: ports.controller,
    brokers: [`${HOST}:${ports.broker}`],
  }),
  prepare(run, ports) {
    const config = join(run.confDir, "server.properties");
    writeFileSync(config, renderKafkaConfig(ports, join(run.dataDir, "kafka-logs")));
    writeFileSync(join(run.confDir, "log4j2.xml"), template("kafka", "log4j2.xml"));
    // KRaft refuses to start on unformatted storage.
    const format = {
      mainClass: "kafka.tools.StorageTool",
      jvmArgs: ["-Xmx256m", ...commonFlags(run)],
      args: ["format", "--cluster-id", randomClusterId(), "--config", config, "--ignore-formatted"],
    };
    try {
      const out = execFileSync(run.java, javaArgs(run, format), {
        cwd: run.dir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 60_000,
      });
      appendFileSync(run.logFile, out);
    } catch (error) {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      const tail = `${stdout}${stderr}`.trimEnd().split("\n").slice(-40).join("\n");
      appendFileSync(run.logFile, `${stdout}${stderr}`);
      throw new ServicesError("START_FAILED", `kafka: formatting the storage failed; last lines:\n${tail}`, {
        cause: error,
      });
    }
  },
  launch(run) {
    return {
      mainClass: "kafka.Kafka",
      jvmArgs: ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", ...commonFlags(run)],
      args: [join(run.confDir, "server.properties")],
    };
  },
  async healthy(ports) {
    // Kafka opens the client port only once the broker is unfenced; a metadata round trip proves it serves.
    if (!(await tcpOpen(HOST, ports.broker, 500))) return false;
    const { Kafka, logLevel } = (await import("kafkajs")).default;
    const admin = new Kafka({
      clientId: "services-health",
      brokers: [`${HOST}:${ports.broker}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2_000,
      requestTimeout: 5_000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  },
};
