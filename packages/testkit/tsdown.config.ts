import { packageBuild } from "@pulsar-connect/tsconfig/tsdown";

// The child processes of the crash harness are started by path, so they are entries of their own.
export default packageBuild(["src/index.ts", "src/sink-process.ts", "src/source-process.ts"]);
