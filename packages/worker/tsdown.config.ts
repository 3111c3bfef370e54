import { packageBuild } from "@pulsar-connect/tsconfig/tsdown";

// The instance process entry and the heartbeat thread entry are started by path, so each is built as an entry of its
// own.
export default packageBuild([
  "src/index.ts",
  "src/internal/process-runtime/child.ts",
  "src/internal/cluster/heartbeat-thread.ts",
]);
