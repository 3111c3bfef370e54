import { packageBuild } from "@pulsar-connect/tsconfig/tsdown";

// The instance process entry is forked by path, so it is built as an entry of its own.
export default packageBuild(["src/index.ts", "src/internal/process-runtime/child.ts"]);
