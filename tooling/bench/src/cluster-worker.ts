// One cluster worker process for the cluster-failover bench: options as JSON in PC_WORKER_OPTIONS, log lines to the
// file PC_WORKER_LOG; prints "listening <url>" once up and leaves the cluster gracefully on SIGTERM. Every second it
// logs the longest delay of its main event loop in that second ("event loop delay", maxMs).
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker, type WorkerOptions } from "@pulsar-connect/worker";

const options = JSON.parse(process.env.PC_WORKER_OPTIONS ?? "{}") as WorkerOptions;
const logFile = process.env.PC_WORKER_LOG;
const log = (line: string) => (logFile ? appendFileSync(logFile, line) : true);
const worker = await Worker.start({ ...options, logDestination: { write: log } });
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
setInterval(() => {
  log(`${JSON.stringify({ time: Date.now(), maxMs: Math.round(loopDelay.max / 1e6), msg: "event loop delay" })}\n`);
  loopDelay.reset();
}, 1_000).unref();
process.stdout.write(`listening ${worker.url}\n`);
process.once("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
