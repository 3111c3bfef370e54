import { runCli } from "./internal/program.ts";

// The process entry of the `pulsar-connect` binary: the only place that ends the process.
const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
process.exitCode = code;
// Pending handles (sockets, timers of closed clients) must not keep a finished command alive.
setTimeout(() => process.exit(code), 200).unref();
