// A Redis, RabbitMQ, NATS, Mosquitto or InfluxDB server of one test file, which the test may kill and start again: the shared
// servers must never be restarted. Same binaries and configuration as tooling/services, in a temporary folder on
// free ports; a restart keeps the data of the run before.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { DaemonServiceName, ServicePorts } from "./internal/config.ts";
import { type DaemonServer, startDaemon } from "./internal/daemon.ts";
import type { ServiceEndpoints } from "./internal/endpoints.ts";
import { influxdbServer } from "./internal/influxdb.ts";
import { mosquittoServer, natsServer, rabbitmqServer, redisServer } from "./internal/messaging.ts";
import { isAlive, stopProcess } from "./internal/proc.ts";

const servers: { [N in DaemonServiceName]: DaemonServer<N> } = {
  redis: redisServer,
  rabbitmq: rabbitmqServer,
  nats: natsServer,
  mosquitto: mosquittoServer,
  influxdb: influxdbServer,
};

export interface PrivateServer<N extends DaemonServiceName> {
  endpoint(): ServiceEndpoints[N];
  /** SIGKILLs the server and waits until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data, and waits until it answers. */
  start(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Call at the top level of a test file: starts the server in beforeAll, stops it and removes its folder in afterAll. */
export function privateServer<N extends DaemonServiceName>(name: N): PrivateServer<N> {
  const server = servers[name] as unknown as DaemonServer<N>;
  const dir = mkdtempSync(join(tmpdir(), `pc-${name}-`));
  let ports: ServicePorts[N] | undefined;
  let pid = 0;
  let marker: string | undefined;

  const start = async (keepData: boolean) => {
    if (ports === undefined) {
      const port = await freePort();
      ports = (
        name === "rabbitmq"
          ? { port, dist: await freePort() }
          : name === "influxdb"
            ? { port, rpc: await freePort() }
            : { port }
      ) as ServicePorts[N];
    }
    const state = await startDaemon(server, ports, { dir, keepData, record: false });
    pid = state.pid;
    marker = state.marker;
  };
  const halt = async (signal: "SIGKILL" | "SIGTERM") => {
    if (pid <= 0 || !isAlive(pid, marker)) return;
    if (signal === "SIGTERM") {
      await stopProcess(pid, marker, 20_000);
    } else {
      process.kill(pid, "SIGKILL");
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    pid = 0;
  };

  beforeAll(() => start(false), 120_000);
  afterAll(async () => {
    await halt("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  return {
    endpoint: () => {
      if (ports === undefined) throw new Error(`private ${name} is not started yet (use it inside tests)`);
      return server.endpoint(ports);
    },
    kill: () => halt("SIGKILL"),
    stop: () => halt("SIGTERM"),
    start: () => start(true),
  };
}
