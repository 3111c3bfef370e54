import { defineConfig } from "tsdown";

export default defineConfig({
  // The instance process entry is forked by path, so it is built as an entry of its own.
  entry: ["src/index.ts", "src/internal/process-runtime/child.ts"],
  format: "esm",
  dts: true,
  unbundle: true,
  clean: true,
});
