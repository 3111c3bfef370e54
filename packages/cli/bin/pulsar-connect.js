#!/usr/bin/env node
// Entry of the `pulsar-connect` binary. Runs the built code when present; inside the monorepo (no dist) it runs
// the TypeScript sources, re-executing Node with the export condition that maps workspace packages to src.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const built = new URL("../dist/main.mjs", import.meta.url);
const CONDITION = "--conditions=@pulsar-connect/source";

if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else if (process.env.PULSAR_CONNECT_SOURCE_MODE === "1") {
  await import(new URL("../src/main.ts", import.meta.url).href);
} else {
  const child = spawn(
    process.execPath,
    [
      CONDITION,
      "--disable-warning=ExperimentalWarning",
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    {
      stdio: "inherit",
      env: { ...process.env, PULSAR_CONNECT_SOURCE_MODE: "1", PULSAR_CONNECT_PREFER_SOURCE: "1" },
    },
  );
  // The child gets the terminal's Ctrl-C itself; forward signals sent to this process only.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
  child.on("exit", (code, signal) => {
    process.exit(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1));
  });
}
