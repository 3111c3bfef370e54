import { join } from "node:path";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, inject } from "vitest";
import definition from "../src/index.ts";

const services = inject("services" as never) as {
  cassandra?: { contactPoints: string[]; localDataCenter: string };
};
const contactPoints = services.cassandra?.contactPoints ?? ["127.0.0.1:9042"];
const localDc = services.cassandra?.localDataCenter ?? "datacenter1";
const keyspace = `conformance_${process.pid}_${Date.now()}`;
let admin: InstanceType<typeof cassandra.Client>;
let tables = 0;

beforeAll(async () => {
  admin = new cassandra.Client({ contactPoints, localDataCenter: localDc, socketOptions: { readTimeout: 60_000 } });
  await admin.connect();
  await admin.execute(
    `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
});

afterAll(async () => {
  await admin?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
  await admin?.shutdown();
});

describeSinkConformance("cassandra", {
  definition,
  config: async () => {
    const table = `t${tables++}`;
    await admin.execute(`CREATE TABLE ${keyspace}.${table} (id int PRIMARY KEY, name text)`);
    return { roots: contactPoints.join(","), localDc, keyspace, columnFamily: table, mode: "structured" };
  },
  invalidConfig: {
    configs: { roots: "127.0.0.1", keyspace: "ks", columnFamily: "t", userName: "u" },
    paths: ["configs.keyname", "configs.columnName", "configs.password"],
  },
  value: (id) => ({ id, name: `name-${id}` }),
  readBack: async (configs) =>
    (
      await admin.execute(`SELECT id FROM ${keyspace}.${configs.columnFamily as string}`, [], { fetchSize: 100_000 })
    ).rows.map((row) => row.id as number),
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
