import { packageBuild } from "@pulsar-connect/tsconfig/tsdown";

export default packageBuild(["src/index.ts", "src/host.ts"]);
