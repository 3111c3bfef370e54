// One cluster worker process for the cluster-failover bench: options as JSON in PC_WORKER_OPTIONS, log lines to the
// file PC_WORKER_LOG; prints "listening <url>" once up and leaves the cluster gracefully on SIGTERM. Every second it
// logs the longest stall of its main event loop since the previous line ("event loop delay", maxMs): the larger of
// what monitorEventLoopDelay saw and how late this one-second tick itself came.
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker, type WorkerOptions } from "@pulsar-connect/worker";

const options = JSON.parse(process.env.PC_WORKER_OPTIONS ?? "{}") as WorkerOptions;
const logFile = process.env.PC_WORKER_LOG;
const log = (line: string) => (logFile ? appendFileSync(logFile, line) : true);
const worker = await Worker.start({ ...options, logDestination: { write: log } });
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - lastTick - 1_000;
  lastTick = now;
  const maxMs = Math.round(Math.max(loopDelay.max / 1e6, late));
  log(`${JSON.stringify({ time: Date.now(), maxMs, msg: "event loop delay" })}\n`);
  loopDelay.reset();
}, 1_000).unref();
process.stdout.write(`listening ${worker.url}\n`);
process.once("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
