import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST } from "./config.ts";
import type { DaemonServer } from "./daemon.ts";
import { httpGet } from "./probe.ts";

/**
 * InfluxDB 1.x (Debian's `influxdb`) with meta, data and WAL in its own folder, HTTP API on `port` and the backup RPC
 * service on `rpc` (its default 8088 would clash between instances); ready when `/ping` answers 204.
 */
export const influxdbServer: DaemonServer<"influxdb"> = {
  name: "influxdb",
  aptPackage: "influxdb",
  binary: "/usr/bin/influxd",
  readyTimeoutMs: 60_000,
  endpoint: ({ port }) => ({ host: HOST, port, url: `http://${HOST}:${port}` }),
  launch: (run, { port, rpc }) => {
    const config = join(run.dir, "influxdb.conf");
    writeFileSync(
      config,
      [
        "reporting-disabled = true",
        `bind-address = "${HOST}:${rpc}"`,
        "[meta]",
        `  dir = "${join(run.dataDir, "meta")}"`,
        "[data]",
        `  dir = "${join(run.dataDir, "data")}"`,
        `  wal-dir = "${join(run.dataDir, "wal")}"`,
        "  query-log-enabled = false",
        "[http]",
        "  enabled = true",
        `  bind-address = "${HOST}:${port}"`,
        "  log-enabled = false",
        "[monitor]",
        "  store-enabled = false",
        "",
      ].join("\n"),
    );
    return { command: "/usr/bin/influxd", args: ["-config", config] };
  },
  healthy: async ({ port }) => (await httpGet(`http://${HOST}:${port}/ping`, 2_000))?.status === 204,
};
