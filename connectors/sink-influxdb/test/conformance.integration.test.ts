import { join } from "node:path";
import { endpointOf, pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import definition from "../src/index.ts";
import { query, uniqueDatabase } from "./influx.ts";

const influxdbUrl = endpointOf("influxdb").url;

describeSinkConformance("influxdb", {
  definition,
  config: () => ({ influxdbUrl, database: uniqueDatabase("conformance") }),
  invalidConfig: {
    configs: { influxdbUrl: "ftp://host", database: "", username: "u", consistencyLevel: "SOME" },
    paths: ["configs.database", "configs.consistencyLevel"],
  },
  value: (id) => ({ measurement: "conformance", id }),
  readBack: async (configs) => {
    const series = await query(configs.database as string, 'SELECT "id" FROM "conformance"').catch((error: Error) =>
      /database not found/.test(error.message) ? [] : Promise.reject(error),
    );
    return series.flatMap((s) => s.values.map((row) => Number(row[1])));
  },
  // Every write has its own time, so a record written again is a second point.
  duplicatesVisible: true,
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
