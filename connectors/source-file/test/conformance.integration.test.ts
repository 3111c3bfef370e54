import { join } from "node:path";
import { pulsarEndpoints } from "@pulsar-connect/test-support";
import { describeSourceConformance, describeSourceKill } from "@pulsar-connect/testkit";
import { afterAll } from "vitest";
import definition from "../src/index.ts";
import { dropFile, freshDirectory, jsonLines, removeDirectories, visibleFiles } from "./files.ts";

afterAll(removeDirectories);

let seeded = 0;
let files = 0;

const config = () => ({ inputDirectory: freshDirectory(), pollingInterval: 200 });

describeSourceConformance("file", {
  definition,
  config,
  invalidConfig: {
    configs: { inputDirectory: "", fileFilter: "([", keepFile: true, processedFileSuffix: ".done", numWorkers: 0 },
    paths: ["configs.inputDirectory", "configs.numWorkers"],
  },
  seed: async (configs, count) => {
    const first = seeded;
    seeded += count;
    dropFile(
      configs.inputDirectory as string,
      `seed-${files++}.jsonl`,
      jsonLines(Array.from({ length: count }, (_, i) => first + i)),
    );
  },
  effectivelyOnce: true,
});

describeSourceKill("file", {
  connectorModule: join(import.meta.dirname, "../src/index.ts"),
  config,
  // Five files, so the kill lands in one of several and the restart must resume it before the later ones.
  seed: async (configs, ids) => {
    for (let part = 0; part < 5; part++) {
      const share = ids.filter((id) => id % 5 === part);
      dropFile(configs.inputDirectory as string, `kill-${part}.jsonl`, jsonLines(share));
    }
  },
  // Every file removed: the source removes a file only once every line of it has its receipt.
  drained: async (configs) => visibleFiles(configs.inputDirectory as string).length === 0,
  guarantees: ["ATLEAST_ONCE", "EFFECTIVELY_ONCE"],
  pulsar: pulsarEndpoints(),
});
