import { defineConfig } from "tsdown";

export default defineConfig({
  entry: ["src/index.ts"],
  format: "esm",
  dts: true,
  unbundle: true,
  clean: true,
  // Emit .js/.d.ts so the files match the exports map (the package is "type": "module").
  fixedExtension: false,
});
