import { cassandraServer } from "./cassandra.ts";
import {
  type DaemonServiceName,
  type JvmServiceName,
  SERVICE_NAMES,
  type ServiceName,
  type ServicePorts,
  servicePorts,
} from "./config.ts";
import { type DaemonServer, startDaemon } from "./daemon.ts";
import {
  mariadbEndpoint,
  mariadbHealthy,
  postgresEndpoint,
  postgresHealthy,
  stopMariadb,
  stopPostgres,
  upMariadb,
  upPostgres,
} from "./databases.ts";
import type { ServiceEndpoints } from "./endpoints.ts";
import { influxdbServer } from "./influxdb.ts";
import { type JvmServer, startJvm } from "./jvm.ts";
import { kafkaServer } from "./kafka.ts";
import { mosquittoServer, natsServer, rabbitmqServer, redisServer } from "./messaging.ts";
import { postgresLogicalHealthy, stopPostgresLogical, upPostgresLogical } from "./postgres-logical.ts";
import { waitUntil } from "./probe.ts";
import { isAlive, listenerPid, peakRssMb, rssMb, stopProcess } from "./proc.ts";
import { pulsarServer } from "./pulsar.ts";
import { s3proxyServer } from "./s3proxy.ts";
import { clearState, readState, type ServiceState, withServiceLock } from "./state.ts";

const jvmServers: { [N in JvmServiceName]: JvmServer<N> } = {
  pulsar: pulsarServer,
  kafka: kafkaServer,
  cassandra: cassandraServer,
  s3proxy: s3proxyServer,
};

function isJvm(name: ServiceName): name is JvmServiceName {
  return name in jvmServers;
}

const daemonServers: { [N in DaemonServiceName]: DaemonServer<N> } = {
  redis: redisServer,
  rabbitmq: rabbitmqServer,
  nats: natsServer,
  mosquitto: mosquittoServer,
  influxdb: influxdbServer,
};

function isDaemon(name: ServiceName): name is DaemonServiceName {
  return name in daemonServers;
}

/** Long enough for a concurrent caller to finish a cold start of the slowest server. */
const LOCK_TIMEOUT_MS = 10 * 60_000;

/**
 * - started: this call started it (and whoever called it may stop it)
 * - reused: started earlier by this tooling and healthy
 * - external: something this tooling did not start serves the port; it is never stopped
 */
export type UpAction = "started" | "reused" | "external";

export interface UpResult<N extends ServiceName = ServiceName> {
  name: N;
  action: UpAction;
  /** Wall time of this call, including health checks. */
  ms: number;
  endpoint: ServiceEndpoints[N];
  pid?: number;
}

function ourLiveState(name: ServiceName): ServiceState | undefined {
  const state = readState(name);
  return state && state.pid > 0 && isAlive(state.pid, state.marker) ? state : undefined;
}

async function upJvm<N extends JvmServiceName>(server: JvmServer<N>): Promise<UpResult<N>> {
  const begun = Date.now();
  // Read (and validate) the port variables first, even when a running server ends up being reused.
  const ports = servicePorts(server.name);
  return withServiceLock(server.name, LOCK_TIMEOUT_MS, async () => {
    const state = ourLiveState(server.name);
    if (state) {
      const running = state.ports as unknown as ServicePorts[N];
      const check = await waitUntil(() => server.healthy(running), { timeoutMs: 15_000, intervalMs: 1_000 });
      if (check.ready) {
        return {
          name: server.name,
          action: "reused",
          ms: Date.now() - begun,
          endpoint: server.endpoint(running),
          pid: state.pid,
        };
      }
      // Ours but not answering (hung, or half-started by a run that was interrupted): start afresh.
      await stopProcess(state.pid, state.marker);
    }
    clearState(server.name);
    if (await server.healthy(ports).catch(() => false)) {
      return { name: server.name, action: "external", ms: Date.now() - begun, endpoint: server.endpoint(ports) };
    }
    const started = await startJvm(server, ports);
    return {
      name: server.name,
      action: "started",
      ms: Date.now() - begun,
      endpoint: server.endpoint(ports),
      pid: started.state.pid,
    };
  });
}

async function upDaemon<N extends DaemonServiceName>(server: DaemonServer<N>): Promise<UpResult<N>> {
  const begun = Date.now();
  const ports = servicePorts(server.name);
  return withServiceLock(server.name, LOCK_TIMEOUT_MS, async () => {
    const result = (action: UpAction, pid?: number): UpResult<N> => ({
      name: server.name,
      action,
      ms: Date.now() - begun,
      endpoint: server.endpoint(ports),
      ...(pid === undefined ? {} : { pid }),
    });
    const state = ourLiveState(server.name);
    if (state) {
      const running = state.ports as unknown as ServicePorts[N];
      const check = await waitUntil(() => server.healthy(running), { timeoutMs: 10_000, intervalMs: 500 });
      if (check.ready) return { ...result("reused", state.pid), endpoint: server.endpoint(running) };
      await stopProcess(state.pid, state.marker);
    }
    clearState(server.name);
    if (await server.healthy(ports).catch(() => false)) return result("external");
    const started = await startDaemon(server, ports);
    return result("started", started.pid);
  });
}

async function upOne<N extends ServiceName>(name: N): Promise<UpResult<N>> {
  if (isDaemon(name)) {
    return (await upDaemon(daemonServers[name] as DaemonServer<DaemonServiceName>)) as unknown as UpResult<N>;
  }
  if (isJvm(name)) return (await upJvm(jvmServers[name] as JvmServer<JvmServiceName>)) as unknown as UpResult<N>;
  const begun = Date.now();
  return withServiceLock(name, LOCK_TIMEOUT_MS, async () => {
    const up =
      name === "postgres"
        ? await upPostgres(servicePorts("postgres").port)
        : name === "postgres-logical"
          ? await upPostgresLogical(servicePorts("postgres-logical").port)
          : await upMariadb(servicePorts("mariadb").port);
    const result: UpResult<ServiceName> = { name, action: up.action, ms: Date.now() - begun, endpoint: up.endpoint };
    if (up.state) result.pid = up.state.pid;
    return result as UpResult<N>;
  });
}

export interface UpOptions {
  /** Called after each server is up (servers start one after another). */
  onResult?: (result: UpResult) => void;
}

/** Brings the servers up one after another (they are CPU-bound while starting), reusing healthy ones. */
export async function upServices<N extends ServiceName>(
  names: readonly N[],
  options: UpOptions = {},
): Promise<UpResult<N>[]> {
  const results: UpResult<N>[] = [];
  for (const name of SERVICE_NAMES.filter((n): n is N => (names as readonly string[]).includes(n))) {
    const result = await upOne(name);
    options.onResult?.(result);
    results.push(result);
  }
  return results;
}

/** Endpoints of the named servers, starting those that are not running. */
export async function ensureServices<N extends ServiceName>(names: readonly N[]): Promise<Pick<ServiceEndpoints, N>> {
  const results = await upServices(names);
  return Object.fromEntries(results.map((result) => [result.name, result.endpoint])) as Pick<ServiceEndpoints, N>;
}

export interface StopResult {
  name: ServiceName;
  /** not-ours: nothing this tooling started is running (an external server is left alone). */
  outcome: "stopped" | "killed" | "not-ours";
  ms: number;
  pid?: number;
}

/** Stops only what this tooling started (SIGTERM, then SIGKILL after 20 s). */
export async function stopServices(names: readonly ServiceName[] = SERVICE_NAMES): Promise<StopResult[]> {
  const results: StopResult[] = [];
  // Reverse start order.
  for (const name of [...SERVICE_NAMES].reverse().filter((n) => names.includes(n))) {
    const result = await withServiceLock(name, LOCK_TIMEOUT_MS, async (): Promise<StopResult> => {
      const state = readState(name);
      if (!state || !(state.pid > 0 && isAlive(state.pid, state.marker))) {
        clearState(name);
        return { name, outcome: "not-ours", ms: 0 };
      }
      const begun = Date.now();
      if (state.managedBy === "pg_ctlcluster") {
        await stopPostgres(state);
        return { name, outcome: "stopped", ms: Date.now() - begun, pid: state.pid };
      }
      if (state.managedBy === "pg_ctl") {
        await stopPostgresLogical(state);
        return { name, outcome: "stopped", ms: Date.now() - begun, pid: state.pid };
      }
      if (state.managedBy === "mariadbd") {
        await stopMariadb(state);
        return { name, outcome: "stopped", ms: Date.now() - begun, pid: state.pid };
      }
      const stop = await stopProcess(state.pid, state.marker, 20_000);
      clearState(name);
      return { name, outcome: stop.forced ? "killed" : "stopped", ms: stop.ms, pid: state.pid };
    });
    results.push(result);
  }
  return results;
}

export type ServiceCondition = "running" | "unhealthy" | "external" | "stopped";

export interface ServiceStatus {
  name: ServiceName;
  condition: ServiceCondition;
  pid?: number;
  ports: number[];
  uptimeMs?: number;
  rssMb?: number;
  peakRssMb?: number;
  /** How long the last start took until ready. */
  startMs?: number;
}

async function healthyOn(name: ServiceName, ports: Record<string, number>): Promise<boolean> {
  try {
    if (isJvm(name)) return await (jvmServers[name] as JvmServer<JvmServiceName>).healthy(ports as never);
    if (isDaemon(name)) return await (daemonServers[name] as DaemonServer<DaemonServiceName>).healthy(ports as never);
    const port = ports.port ?? 0;
    if (name === "postgres-logical") return await postgresLogicalHealthy(port);
    return name === "postgres" ? await postgresHealthy(port) : await mariadbHealthy(port);
  } catch {
    return false;
  }
}

export async function serviceStatus(names: readonly ServiceName[] = SERVICE_NAMES): Promise<ServiceStatus[]> {
  const rows: ServiceStatus[] = [];
  for (const name of SERVICE_NAMES.filter((n) => names.includes(n))) {
    const state = ourLiveState(name);
    if (state) {
      const row: ServiceStatus = {
        name,
        condition: (await healthyOn(name, state.ports)) ? "running" : "unhealthy",
        pid: state.pid,
        ports: Object.values(state.ports),
        uptimeMs: Date.now() - Date.parse(state.startedAt),
      };
      const rss = rssMb(state.pid);
      if (rss !== undefined) row.rssMb = rss;
      const peak = peakRssMb(state.pid);
      if (peak !== undefined) row.peakRssMb = peak;
      if (state.startMs !== undefined) row.startMs = state.startMs;
      rows.push(row);
      continue;
    }
    const ports = servicePorts(name) as unknown as Record<string, number>;
    const row: ServiceStatus = {
      name,
      condition: (await healthyOn(name, ports)) ? "external" : "stopped",
      ports: Object.values(ports),
    };
    const first = Object.values(ports)[0];
    const pid = row.condition === "external" && first !== undefined ? listenerPid(first) : undefined;
    if (pid !== undefined) {
      row.pid = pid;
      const rss = rssMb(pid);
      if (rss !== undefined) row.rssMb = rss;
      const peak = peakRssMb(pid);
      if (peak !== undefined) row.peakRssMb = peak;
    }
    rows.push(row);
  }
  return rows;
}

export { mariadbEndpoint, postgresEndpoint };
