// `pulsar-connect functions-worker <verb>` (pulsar-admin's verbs over the worker's /admin/v2/worker API) and
// `pulsar-connect cluster status` (members, leader and assignments at a glance).
import { Command } from "commander";
import { CliError } from "../errors.ts";
import { AdminClient } from "./admin-client.ts";
import type { AdminConnection } from "./admin-connection.ts";
import { type JavaType, jacksonPretty } from "./java-json.ts";
import { type CliIo, json, table } from "./output.ts";

type Options = Record<string, unknown>;

/** What the commands need of the global flags: the connection and the output format. */
export type GlobalsOf = (command: Command) => {
  connection: AdminConnection;
  output: "json" | "table" | "pulsar-admin";
};

/** A worker as `/admin/v2/worker/cluster` lists it (upstream's WorkerInfo). */
export interface WorkerInfo {
  workerId: string;
  workerHostname: string;
  port: number;
}

const WORKER_INFO: JavaType = {
  fields: [
    ["workerId", "string"],
    ["workerHostname", "string"],
    ["port", "int!"],
  ],
};

const STATS_DATA_FIELDS: [string, JavaType][] = [
  ["receivedTotal", "long!"],
  ["processedSuccessfullyTotal", "long!"],
  ["systemExceptionsTotal", "long!"],
  ["userExceptionsTotal", "long!"],
];

/** Upstream's WorkerFunctionInstanceStats; its stats classes print null fields too (`@JsonInclude(ALWAYS)`). */
const INSTANCE_STATS: JavaType = {
  fields: [
    ["name", "string"],
    [
      "metrics",
      {
        fields: [
          ...STATS_DATA_FIELDS,
          ["avgProcessLatency", "double", { always: true }],
          [
            "1min",
            { fields: [...STATS_DATA_FIELDS, ["avgProcessLatency", "double", { always: true }]] },
            { always: true },
          ],
          ["lastInvocation", "long", { always: true }],
          ["userMetrics", { map: "double" }, { always: true }],
        ],
      },
    ],
  ],
};

/** Upstream's org.apache.pulsar.common.stats.Metrics. */
const METRICS: JavaType = {
  fields: [
    ["metrics", { map: "any" }],
    ["dimensions", { map: "string" }],
  ],
};

interface InstanceStats {
  name: string;
  metrics: {
    receivedTotal: number;
    processedSuccessfullyTotal: number;
    systemExceptionsTotal: number;
    userExceptionsTotal: number;
    lastInvocation: number | null;
  };
}

interface Metrics {
  metrics: Record<string, unknown>;
  dimensions: Record<string, string>;
}

/** What pulsar-admin prints for a list: each element on its own, as Jackson writes it. */
function eachPretty(items: unknown[], type: JavaType): string {
  return items.map((item) => `${jacksonPretty(item, type)}\n`).join("");
}

/** What pulsar-admin prints for a map of collections: `key    [a, b]`, one line per entry (Java's toString). */
function mapLines(map: Record<string, string[]>): string {
  return Object.entries(map)
    .map(([key, values]) => `${key}    [${values.join(", ")}]\n`)
    .join("");
}

function workersTable(workers: WorkerInfo[], leader: WorkerInfo | undefined, assignments: Record<string, string[]>) {
  return table(
    ["WORKER", "HOST", "PORT", "LEADER", "INSTANCES"],
    workers.map((worker) => [
      worker.workerId,
      worker.workerHostname,
      worker.port,
      worker.workerId === leader?.workerId ? "yes" : "no",
      (assignments[worker.workerId] ?? []).length,
    ]),
  );
}

function assignmentsTable(assignments: Record<string, string[]>): string {
  const rows = Object.entries(assignments).flatMap(([workerId, instances]) =>
    instances.map((instance) => [workerId, instance]),
  );
  return rows.length === 0 ? "no instances assigned\n" : table(["WORKER", "INSTANCE"], rows);
}

/** `pulsar-connect functions-worker <verb>`: the verbs of pulsar-admin's `functions-worker`, and drain. */
export function functionsWorkerGroup(io: CliIo, globalsOf: GlobalsOf): Command {
  const group = new Command("functions-worker").description(
    "Inspect the worker cluster (members, leader, assignments, stats) and rebalance or drain it",
  );
  const out = (text: string) => io.stdout.write(text);
  const client = (command: Command) => {
    const globals = globalsOf(command);
    return { globals, admin: new AdminClient(globals.connection) };
  };

  group.addCommand(
    new Command("get-cluster")
      .description("List the workers of the cluster (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const { admin, globals } = client(cmd);
        const workers = (await admin.worker("GET", "worker/cluster")) as WorkerInfo[];
        if (globals.output === "json") out(json(workers));
        else if (globals.output === "pulsar-admin") out(eachPretty(workers, WORKER_INFO));
        else
          out(
            table(
              ["WORKER", "HOST", "PORT"],
              workers.map((worker) => [worker.workerId, worker.workerHostname, worker.port]),
            ),
          );
      }),
  );

  group.addCommand(
    new Command("get-cluster-leader")
      .description("Show the worker that leads the cluster (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const { admin, globals } = client(cmd);
        const leader = (await admin.worker("GET", "worker/cluster/leader")) as WorkerInfo;
        if (globals.output === "json") out(json(leader));
        else if (globals.output === "pulsar-admin") out(`${jacksonPretty(leader, WORKER_INFO)}\n`);
        else out(table(["WORKER", "HOST", "PORT"], [[leader.workerId, leader.workerHostname, leader.port]]));
      }),
  );

  group.addCommand(
    new Command("get-function-assignments")
      .description("Show which worker runs which connector instance (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const { admin, globals } = client(cmd);
        const assignments = (await admin.worker("GET", "worker/assignments")) as Record<string, string[]>;
        if (globals.output === "json") out(json(assignments));
        else if (globals.output === "pulsar-admin") out(mapLines(assignments));
        else out(assignmentsTable(assignments));
      }),
  );

  group.addCommand(
    new Command("function-stats")
      .description("Show the counters of every instance the worker runs (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const { admin, globals } = client(cmd);
        const stats = (await admin.worker("GET", "worker-stats/functionsmetrics")) as InstanceStats[];
        if (globals.output === "json") out(json(stats));
        else if (globals.output === "pulsar-admin") out(eachPretty(stats, INSTANCE_STATS));
        else
          out(
            stats.length === 0
              ? "no instances run on this worker\n"
              : table(
                  ["INSTANCE", "RECEIVED", "PROCESSED", "SYSTEM ERRORS", "CONNECTOR ERRORS", "LAST RECEIVED"],
                  stats.map(({ name, metrics }) => [
                    name,
                    metrics.receivedTotal,
                    metrics.processedSuccessfullyTotal,
                    metrics.systemExceptionsTotal,
                    metrics.userExceptionsTotal,
                    metrics.lastInvocation ? new Date(metrics.lastInvocation).toISOString() : "-",
                  ]),
                ),
          );
      }),
  );

  group.addCommand(
    new Command("monitoring-metrics")
      .description("Show the worker process's metrics (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const { admin, globals } = client(cmd);
        const metrics = (await admin.worker("GET", "worker-stats/metrics")) as Metrics[];
        if (globals.output === "json") out(json(metrics));
        else if (globals.output === "pulsar-admin") out(`${jacksonPretty(metrics, { list: METRICS })}\n`);
        else
          out(
            table(
              ["DIMENSIONS", "METRIC", "VALUE"],
              metrics.flatMap((entry) => {
                const dimensions = Object.entries(entry.dimensions)
                  .map(([key, value]) => `${key}=${value}`)
                  .join(",");
                return Object.entries(entry.metrics).map(([metric, value]) => [dimensions, metric, String(value)]);
              }),
            ),
          );
      }),
  );

  group.addCommand(
    new Command("rebalance")
      .description("Spread the instances evenly over the workers again (superuser; needs at least 2 workers)")
      .action(async (_options: Options, cmd: Command) => {
        const { admin } = client(cmd);
        await admin.worker("PUT", "worker/rebalance");
        out("Rebalance command sent successfully\n");
      }),
  );

  const drainTarget = (options: Options) => {
    const workerId = options.workerId === undefined ? undefined : String(options.workerId);
    if (workerId === "") throw new CliError("USAGE", "--worker-id must not be empty");
    return workerId === undefined ? "worker/drain" : `worker/leader/drain?workerId=${encodeURIComponent(workerId)}`;
  };

  group.addCommand(
    new Command("drain")
      .description(
        "Move every instance off a worker, the one --admin-url names unless --worker-id (superuser; needs at least 2 workers)",
      )
      .option("--worker-id <id>", "The worker to drain, as get-cluster lists it")
      .action(async (options: Options, cmd: Command) => {
        const { admin } = client(cmd);
        await admin.worker("PUT", drainTarget(options));
        out("Drain command sent successfully\n");
      }),
  );

  group.addCommand(
    new Command("drain-status")
      .alias("get-drain-status")
      .description("Show how the last drain of a worker went: NOT_RUN, RUNNING, SUCCESS or ERROR (superuser)")
      .option("--worker-id <id>", "The drained worker, as get-cluster lists it (default: the one --admin-url names)")
      .action(async (options: Options, cmd: Command) => {
        const { admin, globals } = client(cmd);
        const status = (await admin.worker("GET", drainTarget(options))) as { status: string; lastError: string };
        if (globals.output === "table") out(`${status.status}${status.lastError ? `: ${status.lastError}` : ""}\n`);
        else out(json(status));
      }),
  );
  return group;
}

/** `pulsar-connect cluster status`: the workers, which one leads, and what each runs. */
export function clusterGroup(io: CliIo, globalsOf: GlobalsOf): Command {
  const group = new Command("cluster").description("Show the worker cluster");
  group.addCommand(
    new Command("status")
      .description("Show the workers, the leader and the instances assigned to each (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const globals = globalsOf(cmd);
        const admin = new AdminClient(globals.connection);
        const [workers, leader, assignments] = (await Promise.all([
          admin.worker("GET", "worker/cluster"),
          admin.worker("GET", "worker/cluster/leader"),
          admin.worker("GET", "worker/assignments"),
        ])) as [WorkerInfo[], WorkerInfo, Record<string, string[]>];
        if (globals.output === "json") {
          io.stdout.write(json({ workers, leader, assignments }));
          return;
        }
        const total = Object.values(assignments).reduce((sum, list) => sum + list.length, 0);
        let text = `workers: ${workers.length}, leader: ${leader.workerId}, instances assigned: ${total}\n`;
        text += workersTable(workers, leader, assignments);
        // Instances assigned to a worker that is no longer a member (it left; the leader has not moved them yet).
        const orphans = Object.keys(assignments).filter((id) => !workers.some((worker) => worker.workerId === id));
        if (orphans.length > 0) text += `assigned to workers that are not members: ${orphans.join(", ")}\n`;
        text += `\n${assignmentsTable(assignments)}`;
        io.stdout.write(text);
      }),
  );
  return group;
}
