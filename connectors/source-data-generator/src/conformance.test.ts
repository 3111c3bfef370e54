import { describeSourceConformance } from "@pulsar-connect/testkit";
import dataGenerator from "./index.ts";

describeSourceConformance("data-generator", {
  definition: dataGenerator,
  config: () => ({ recordType: "orders", ratePerSecond: 0, partitions: 3 }),
  invalidConfig: {
    configs: { ratePerSecond: -5, recordType: "cars" },
    paths: ["configs.ratePerSecond", "configs.recordType"],
  },
  effectivelyOnce: true,
});
