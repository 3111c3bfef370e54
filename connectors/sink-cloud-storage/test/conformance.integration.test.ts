import { join } from "node:path";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll, inject } from "vitest";
import definition from "../src/index.ts";
import { freshBucket, jsonLines, s3Client } from "./bucket.ts";

const client = s3Client();
afterAll(() => client.destroy());
const pulsar = inject("services").pulsar;

describeSinkConformance("cloud-storage", {
  definition,
  config: () => freshBucket(client, { formatType: "json", batchSize: 50, batchTimeMs: 200 }),
  invalidConfig: {
    configs: { provider: "google-cloud-storage", bucket: "", formatType: "csv", timePartitionDuration: "1w" },
    paths: ["configs.provider", "configs.bucket", "configs.formatType", "configs.timePartitionDuration"],
  },
  value: (id) => ({ id }),
  // A record written again lands in an object of the same name when its batch is the same, so a repeat may not show.
  duplicatesVisible: false,
  readBack: async (configs) =>
    ((await jsonLines(client, configs.bucket as string)) as { id: number }[]).map((row) => row.id),
  pulsar: {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  },
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
