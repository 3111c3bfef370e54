import { describeSourceConformance } from "@pulsar-connect/testkit";
import { afterAll, beforeAll } from "vitest";
import definition from "../src/index.ts";
import { cdcConfig, dropReplicationObjects, sql, uniqueName } from "./cdc.ts";

const created: Array<Record<string, unknown>> = [];
let seeded = 0;
let client: Awaited<ReturnType<typeof sql>>;

beforeAll(async () => {
  client = await sql();
});

afterAll(async () => {
  await dropReplicationObjects(created);
  await client.end();
});

describeSourceConformance("debezium-postgres", {
  definition,
  config: async () => {
    const table = uniqueName("conformance");
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
    const configs = cdcConfig(table);
    created.push(configs);
    return configs;
  },
  invalidConfig: {
    configs: {
      "database.hostname": "",
      "database.port": "port",
      "database.user": "u",
      "database.dbname": "d",
      "topic.prefix": "p",
      "snapshot.mode": "always",
    },
    paths: ["configs.database.hostname", "configs.database.port", "configs.snapshot.mode"],
  },
  seed: async (configs, count) => {
    const table = (configs["table.include.list"] as string).replace("public.", "");
    for (let i = 0; i < count; i++) {
      const id = seeded++;
      await client.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, [id, `row ${id}`]);
    }
  },
  effectivelyOnce: true,
});
