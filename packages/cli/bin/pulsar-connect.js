#!/usr/bin/env node
// Entry of the `pulsar-connect` binary. A published install runs the built code (dist). Inside the monorepo,
// where the TypeScript sources sit next to this file, it runs them: Node is re-executed with the export condition
// that maps every workspace package to its src, so nothing needs building first.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const built = new URL("../dist/main.mjs", import.meta.url);
const fromSource = existsSync(source) && !source.includes("/node_modules/");

if (!fromSource) {
  await import(built.href);
} else if (process.env.PULSAR_CONNECT_SOURCE_MODE === "1") {
  await import(new URL("../src/main.ts", import.meta.url).href);
} else {
  const child = spawn(
    process.execPath,
    [
      "--conditions=@pulsar-connect/source",
      "--disable-warning=ExperimentalWarning",
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: "inherit", env: { ...process.env, PULSAR_CONNECT_SOURCE_MODE: "1", PULSAR_CONNECT_PREFER_SOURCE: "1" } },
  );
  // A terminal's Ctrl-C reaches the child directly; forward signals sent to this process alone.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
  child.on("exit", (code, signal) => {
    process.exit(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1));
  });
}
