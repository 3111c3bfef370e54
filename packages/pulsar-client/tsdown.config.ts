import { packageBuild } from "@pulsar-connect/tsconfig/tsdown";

// Emit .js/.d.ts so the files match the exports map (the package is "type": "module").
export default packageBuild(["src/index.ts"], { fixedExtension: false });
