// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the server templates use ${NAME} placeholders
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderCassandraConfig } from "./cassandra.ts";
import { parseServiceNames, portFromEnv, renderTemplate, servicePorts } from "./config.ts";
import { ServicesError } from "./errors.ts";
import { parseJavaVersion } from "./java.ts";
import { randomClusterId, renderKafkaConfig } from "./kafka.ts";
import { servicesListedIn, servicesOfWorkspace } from "./manifest.ts";
import { pulsarDurability, renderPulsarConfig } from "./pulsar.ts";

function properties(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.includes("=")) continue;
    const at = line.indexOf("=");
    map.set(line.slice(0, at), line.slice(at + 1));
  }
  return map;
}

describe("renderTemplate", () => {
  it("fills every placeholder", () => {
    expect(renderTemplate("a=${A}\nb=${B_2}:${A}", { A: "x", B_2: 7 })).toBe("a=x\nb=7:x");
  });

  it("refuses a placeholder without a value instead of writing an empty setting", () => {
    expect(() => renderTemplate("port=${PORT}", {})).toThrow(ServicesError);
    expect(() => renderTemplate("port=${PORT}", {})).toThrow(/PORT/);
  });
});

describe("port overrides", () => {
  it("uses the default when the variable is unset or blank", () => {
    expect(portFromEnv({}, "KAFKA_PORT", 9092)).toBe(9092);
    expect(portFromEnv({ KAFKA_PORT: " " }, "KAFKA_PORT", 9092)).toBe(9092);
  });

  it("takes the variable and rejects values that are not ports", () => {
    expect(portFromEnv({ KAFKA_PORT: "19092" }, "KAFKA_PORT", 9092)).toBe(19092);
    for (const bad of ["0", "65536", "12.5", "abc"]) {
      expect(() => portFromEnv({ KAFKA_PORT: bad }, "KAFKA_PORT", 9092)).toThrow(/KAFKA_PORT/);
    }
  });

  it("maps each server's variables", () => {
    const env = { PULSAR_BROKER_PORT: "16650", PULSAR_WEB_PORT: "18080", CASSANDRA_PORT: "19042", PGPORT: "15432" };
    expect(servicePorts("pulsar", env)).toEqual({ broker: 16650, web: 18080, bookie: 3181 });
    expect(servicePorts("cassandra", env)).toEqual({ native: 19042, storage: 7000 });
    expect(servicePorts("postgres", env)).toEqual({ port: 15432 });
    expect(servicePorts("mariadb", { MARIADB_PORT: "13306" })).toEqual({ port: 13306 });
    expect(servicePorts("kafka", {})).toEqual({ broker: 9092, controller: 9093 });
  });
});

describe("server configs", () => {
  it("pulsar: transactions on, deduplication off by default, idle topics kept, loopback", () => {
    const conf = properties(renderPulsarConfig({ broker: 16650, web: 18080 }));
    expect(conf.get("brokerServicePort")).toBe("16650");
    expect(conf.get("webServicePort")).toBe("18080");
    expect(conf.get("advertisedAddress")).toBe("127.0.0.1");
    expect(conf.get("transactionCoordinatorEnabled")).toBe("true");
    expect(conf.get("brokerDeduplicationEnabled")).toBe("false");
    expect(conf.get("brokerDeleteInactiveTopicsEnabled")).toBe("false");
    expect(conf.get("allowAutoTopicCreation")).toBe("true");
    expect(conf.get("systemTopicEnabled")).toBe("true");
    expect(conf.get("topicLevelPoliciesEnabled")).toBe("true");
    expect(conf.get("managedLedgerDefaultEnsembleSize")).toBe("1");
    // No value may carry a trailing comment: java.util.Properties would keep it.
    for (const value of conf.values()) expect(value).not.toContain("#");
  });

  it("pulsar: the journal is synced before acknowledging only in the durable configuration", () => {
    const fast = properties(renderPulsarConfig({ broker: 16650, web: 18080 }, pulsarDurability({})));
    expect(fast.get("journalSyncData")).toBe("false");
    const durable = renderPulsarConfig(
      { broker: 16650, web: 18080 },
      pulsarDurability({ PULSAR_DURABILITY: "durable" }),
    );
    expect(properties(durable).get("journalSyncData")).toBe("true");
    expect(() => pulsarDurability({ PULSAR_DURABILITY: "safe" })).toThrow(/PULSAR_DURABILITY/);
  });

  it("kafka: listeners and voters follow the ports, data under the run dir", () => {
    const conf = properties(renderKafkaConfig({ broker: 19092, controller: 19093 }, "/data/k"));
    expect(conf.get("listeners")).toBe("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
    expect(conf.get("advertised.listeners")).toBe("PLAINTEXT://127.0.0.1:19092");
    expect(conf.get("controller.quorum.voters")).toBe("1@127.0.0.1:19093");
    expect(conf.get("log.dirs")).toBe("/data/k");
    expect(conf.get("offsets.topic.replication.factor")).toBe("1");
  });

  it("cassandra: ports and directories are filled", () => {
    const yaml = renderCassandraConfig({ native: 19042, storage: 17000 }, "/data/c");
    expect(yaml).toContain("native_transport_port: 19042");
    expect(yaml).toContain('seeds: "127.0.0.1:17000"');
    expect(yaml).toContain("commitlog_directory: /data/c/commitlog");
    expect(yaml).not.toContain("${");
  });

  it("kafka cluster ids look like Kafka's own", () => {
    for (let i = 0; i < 200; i++) {
      const id = randomClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});

describe("java version", () => {
  it("reads the major version from `java -version`", () => {
    expect(parseJavaVersion('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime')).toBe(17);
    expect(parseJavaVersion('openjdk version "25" 2025-09-16')).toBe(25);
    expect(parseJavaVersion('java version "1.8.0_402"')).toBe(8);
    expect(parseJavaVersion("garbage")).toBeUndefined();
  });
});

describe("service names", () => {
  it("orders by start order and drops duplicates", () => {
    expect(parseServiceNames(["mariadb", "pulsar", "kafka", "pulsar"])).toEqual(["pulsar", "kafka", "mariadb"]);
  });

  it("names the unknown ones", () => {
    expect(() => parseServiceNames(["pulsar", "mongodb"])).toThrow(/"mongodb"/);
  });

  it("collects the union of the workspace's test/services.json files", () => {
    const root = mkdtempSync(join(tmpdir(), "services-manifest-"));
    const write = (dir: string, content: string) => {
      mkdirSync(join(root, dir, "test"), { recursive: true });
      writeFileSync(join(root, dir, "test", "services.json"), content);
    };
    write("packages/a", '["kafka"]');
    write("connectors/b", '["postgres", "pulsar"]');
    write("tooling/c", '["pulsar"]');
    mkdirSync(join(root, "packages/none"), { recursive: true });
    expect(servicesOfWorkspace(root)).toEqual(["pulsar", "kafka", "postgres"]);
    expect(servicesListedIn(join(root, "packages/none"))).toEqual([]);
    write("packages/bad", '{"pulsar": true}');
    expect(() => servicesOfWorkspace(root)).toThrow(/JSON array/);
  });
});
