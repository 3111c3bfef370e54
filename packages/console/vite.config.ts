import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The build lands in the worker package, which serves and publishes it (see packages/worker/src/internal/console).
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../worker/console/", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
  },
});
