import type { ServerResponse } from "node:http";
import { WorkerError } from "../errors.ts";
import type { Authenticator, Principal } from "./auth.ts";
import type { ConnectorManager } from "./connector-manager.ts";
import { sendJson, sendNoContent } from "./http.ts";
import { type ClusterView, type DrainStatus, instanceName, TOO_FEW_WORKERS, type WorkerInfo } from "./scheduler.ts";

/** What the worker API needs from the worker. */
export interface WorkerApiSettings {
  auth: Authenticator;
  manager: ConnectorManager;
  cluster: ClusterView;
  /** Cluster label of the metrics. */
  clusterName: string;
}

/**
 * Upstream's functions-worker API: `/admin/v2/worker/...` (members, leader, assignments, rebalance, drain) and
 * `/admin/v2/worker-stats/...` (monitoring metrics, instance stats), answered from the scheduler's cluster view.
 * As upstream, everything but `cluster/leader/ready` needs a superuser, and leader-only operations sent to another
 * worker are redirected (307) to the leader.
 */
export class WorkerApi {
  private readonly auth: Authenticator;
  private readonly manager: ConnectorManager;
  private readonly cluster: ClusterView;
  private readonly clusterName: string;

  constructor(settings: WorkerApiSettings) {
    this.auth = settings.auth;
    this.manager = settings.manager;
    this.cluster = settings.cluster;
    this.clusterName = settings.clusterName;
  }

  /** Answers `method` on `/admin/v2/<resource><rest>`; false when no endpoint matches. */
  async handle(
    method: string,
    resource: "worker" | "worker-stats",
    rest: string,
    url: URL,
    principal: Principal,
    response: ServerResponse,
  ): Promise<boolean> {
    const route = `${method} ${resource}${rest.replace(/\/+$/, "")}`;
    const superUser = (action: string) => this.auth.requireSuperUser(principal, action);
    switch (route) {
      case "GET worker/cluster":
        superUser("getting the worker cluster");
        sendJson(response, 200, this.cluster.workers());
        return true;
      case "GET worker/cluster/leader": {
        superUser("getting the cluster leader");
        sendJson(response, 200, this.leader());
        return true;
      }
      case "GET worker/cluster/leader/ready":
        if (!this.isLeader()) throw new WorkerError("NOT_READY", "This worker is not the leader of its cluster");
        sendJson(response, 200, true);
        return true;
      case "GET worker/assignments":
        superUser("getting the assignments");
        sendJson(response, 200, this.cluster.assignments());
        return true;
      case "GET worker/connectors":
        superUser("listing the connectors");
        sendJson(response, 200, this.connectors());
        return true;
      case "PUT worker/rebalance":
        superUser("rebalancing the cluster");
        if (this.redirectToLeader(url, response)) return true;
        if (this.cluster.workers().length < 2) throw new WorkerError("BAD_REQUEST", TOO_FEW_WORKERS);
        if (!this.cluster.rebalance) throw this.refused("rebalance");
        await this.cluster.rebalance();
        sendNoContent(response);
        return true;
      case "PUT worker/drain":
      case "PUT worker/leader/drain": {
        superUser("draining a worker");
        const workerId = this.drainTarget(url);
        if (this.redirectToLeader(url, response, workerId)) return true;
        const members = this.cluster.workers();
        if (members.length < 2) throw new WorkerError("BAD_REQUEST", TOO_FEW_WORKERS);
        if (!members.some((member) => member.workerId === workerId)) {
          throw new WorkerError("BAD_REQUEST", `Worker ${workerId} is not among the current workers in the system`);
        }
        if (!this.cluster.drain) throw this.refused("drain");
        await this.cluster.drain(workerId);
        sendNoContent(response);
        return true;
      }
      case "GET worker/drain":
      case "GET worker/leader/drain": {
        superUser("getting the drain status of a worker");
        const workerId = this.drainTarget(url);
        if (this.redirectToLeader(url, response, workerId)) return true;
        const status: DrainStatus = this.cluster.drainStatus?.(workerId) ?? { status: "NOT_RUN", lastError: "" };
        sendJson(response, 200, status);
        return true;
      }
      case "GET worker-stats/metrics":
        superUser("getting the worker metrics");
        sendJson(response, 200, this.monitoringMetrics());
        return true;
      case "GET worker-stats/functionsmetrics":
        superUser("getting the instance stats");
        sendJson(response, 200, this.functionsMetrics());
        return true;
      default:
        return false;
    }
  }

  /** This worker's id (`host:port`), as the cluster view lists its members. */
  private selfId(): string {
    return this.manager.workerId;
  }

  private leader(): WorkerInfo {
    const leader = this.cluster.leader();
    if (!leader) throw new WorkerError("INTERNAL", "Leader cannot be determined");
    return leader;
  }

  private isLeader(): boolean {
    const leader = this.cluster.leader();
    return leader !== undefined && leader.workerId === this.selfId();
  }

  /** The worker a drain is about: `?workerId=` or, when absent, this one (as upstream). */
  private drainTarget(url: URL): string {
    const given = url.searchParams.get("workerId");
    return given === null || given === "" ? this.selfId() : given;
  }

  /**
   * Sends a leader-only operation to the leader as upstream does (307, same method and body); drain operations go
   * to `/admin/v2/worker/leader/drain?workerId=` there. True when redirected.
   */
  private redirectToLeader(url: URL, response: ServerResponse, drainOf?: string): boolean {
    if (this.isLeader()) return false;
    const leader = this.leader();
    const target = new URL(url.pathname, `http://${hostForUrl(leader.workerHostname)}:${leader.port}`);
    if (drainOf !== undefined) {
      target.pathname = "/admin/v2/worker/leader/drain";
      target.searchParams.set("workerId", drainOf);
    }
    response.writeHead(307, { location: target.toString(), "content-length": 0 });
    response.end();
    return true;
  }

  private refused(operation: string): WorkerError {
    return new WorkerError(
      "UNSUPPORTED",
      `${operation} is not supported by this worker's scheduler: it places every instance by itself`,
    );
  }

  /** Every installed connector, as upstream's `ConnectorDefinition` list (one entry per name, sink and source). */
  private connectors(): Record<string, unknown>[] {
    const byName = new Map<string, Record<string, unknown>>();
    for (const kind of ["source", "sink"] as const) {
      for (const entry of this.manager.builtins(kind) as Record<string, unknown>[]) {
        const name = String(entry.name);
        byName.set(name, { ...byName.get(name), ...entry });
      }
    }
    return [...byName.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
  }

  /**
   * `monitoring-metrics`: upstream lists its JVM's metrics here; this worker lists its Node process's memory and CPU
   * and its instance counts, each as upstream's `Metrics` (`dimensions` + `metrics`).
   */
  private monitoringMetrics(): { dimensions: Record<string, string>; metrics: Record<string, number> }[] {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const here = this.manager.countersHere();
    const running = here.filter((entry) => entry.running).length;
    return [
      {
        dimensions: { system: "nodejs", cluster: this.clusterName },
        metrics: {
          process_resident_memory_bytes: memory.rss,
          nodejs_heap_used_bytes: memory.heapUsed,
          nodejs_heap_total_bytes: memory.heapTotal,
          nodejs_external_memory_bytes: memory.external,
          process_cpu_user_seconds_total: cpu.user / 1e6,
          process_cpu_system_seconds_total: cpu.system / 1e6,
          process_uptime_seconds: Math.round(process.uptime()),
        },
      },
      {
        dimensions: { system: "worker", cluster: this.clusterName, workerId: this.selfId() },
        metrics: {
          worker_instances_assigned: here.length,
          worker_instances_running: running,
          worker_members: this.cluster.workers().length,
        },
      },
    ];
  }

  /** `function-stats`: upstream's `WorkerFunctionInstanceStats` of every instance this worker runs. */
  private functionsMetrics(): { name: string; metrics: Record<string, unknown> }[] {
    return this.manager.countersHere().map(({ instance, counters, lastMinute }) => {
      const userMetrics: Record<string, number> = {};
      for (const [metric, entry] of counters.userMetrics) {
        userMetrics[`${metric}_sum`] = entry.sum;
        userMetrics[`${metric}_count`] = entry.count;
      }
      return {
        name: instanceName(instance),
        metrics: {
          receivedTotal: counters.received,
          processedSuccessfullyTotal: counters.written,
          systemExceptionsTotal: counters.systemExceptions,
          userExceptionsTotal: counters.connectorExceptions,
          // The runtime measures no per-record processing latency.
          avgProcessLatency: null,
          "1min": {
            receivedTotal: lastMinute.received,
            processedSuccessfullyTotal: lastMinute.written,
            systemExceptionsTotal: lastMinute.systemExceptions,
            userExceptionsTotal: lastMinute.connectorExceptions,
            avgProcessLatency: null,
          },
          lastInvocation: counters.lastReceivedTime > 0 ? counters.lastReceivedTime : null,
          userMetrics,
        },
      };
    });
  }
}

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
