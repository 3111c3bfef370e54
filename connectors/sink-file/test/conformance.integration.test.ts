import { join } from "node:path";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSinkConformance } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";
import { finishedContents, freshDirectory, removeDirectories } from "./files.ts";

afterAll(removeDirectories);

describeSinkConformance("file", {
  definition,
  // Small files: every write that returned has finished at least one file, which is what readBack sees.
  config: () => ({ directory: freshDirectory(), rollSizeBytes: 64 }),
  invalidConfig: {
    configs: { directory: "", fileNamePattern: "out-%x.log", format: "xml" },
    paths: ["configs.directory", "configs.format"],
  },
  value: (id) => ({ id }),
  readBack: async (configs) =>
    finishedContents(configs.directory as string).flatMap((text) =>
      text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => (JSON.parse(line) as { id: number }).id),
    ),
  duplicatesVisible: true,
  pulsar: pulsarEndpoints(),
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
});
