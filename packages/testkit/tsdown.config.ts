import { defineConfig } from "tsdown";

export default defineConfig({
  entry: ["src/index.ts", "src/sink-process.ts", "src/source-process.ts"],
  format: "esm",
  dts: true,
  unbundle: true,
  clean: true,
});
