// One cluster worker process for the cluster-failover bench: options as JSON in PC_WORKER_OPTIONS, log lines to the
// file PC_WORKER_LOG; prints "listening <url>" once up and leaves the cluster gracefully on SIGTERM.
import { appendFileSync } from "node:fs";
import { Worker, type WorkerOptions } from "@pulsar-connect/worker";

const options = JSON.parse(process.env.PC_WORKER_OPTIONS ?? "{}") as WorkerOptions;
const logFile = process.env.PC_WORKER_LOG;
const worker = await Worker.start({
  ...options,
  logDestination: { write: (line: string) => (logFile ? appendFileSync(logFile, line) : true) },
});
process.stdout.write(`listening ${worker.url}\n`);
process.once("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
