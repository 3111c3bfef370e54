// A cluster of workers for the cluster tests, on the shared Pulsar: its names (run, namespace, work folder), the
// options its workers share, workers in processes of their own (fixtures/run-cluster-worker.ts) that a test can
// SIGKILL, SIGSTOP or SIGTERM, reads of the cluster's topics, admin calls through any live worker, and the cleanup.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Message, MessageId, PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { inject } from "vitest";
import type { WorkerOptions } from "../src/index.ts";
import { http, listeningUrl, until } from "./helpers.ts";

/** A worker started by `TestCluster.start`, in a process of its own. */
export interface ClusterWorker {
  port: number;
  url: string;
  workerId: string;
  child: ChildProcess;
  /** The file its log lines go to. */
  log: string;
  dataDir: string;
}

/** The instances of a connector, as its status answers them. */
export type InstanceStatuses = { instanceId: number; status: { running: boolean; workerId: string } }[];

export interface TestClusterSettings {
  /** Starts the run's name, which names the cluster and its namespace (`public/<run>`). */
  runPrefix: string;
  /** Starts the name of the work folder (in the system's temporary folder). */
  dirPrefix: string;
  leaseMs: number;
  /** 500 ms unless given. */
  heartbeatIntervalMs?: number;
  /** A data folder per start (`data-<port>-<start>`) instead of one per port (`data-<port>`) kept across restarts. */
  dataDirPerStart?: boolean;
  /** Pipes the stdin of worker processes (for the fixture's `busy` command) instead of ignoring it. */
  stdin?: "pipe" | "ignore";
  /** Options of the worker processes beyond the shared ones and the backoff (200 ms to 1 s). */
  processOptions?: (port: number) => WorkerOptions;
}

export class TestCluster {
  readonly serviceUrl: string;
  readonly adminUrl: string;
  readonly run: string;
  readonly namespace: string;
  readonly workDir: string;
  /** The live worker processes, by port: `start` adds one, `kill` removes it. */
  readonly workers: Map<number, ClusterWorker> = new Map();
  private readonly spawned: ChildProcess[] = [];
  private readonly settings: TestClusterSettings;
  private launches = 0;

  constructor(settings: TestClusterSettings) {
    this.settings = settings;
    const pulsar = inject("services").pulsar;
    if (pulsar === undefined) throw new Error("test/services.json must list pulsar");
    this.serviceUrl = pulsar.serviceUrl;
    this.adminUrl = pulsar.webServiceUrl;
    this.run = `${settings.runPrefix}${Date.now().toString(36)}`;
    this.namespace = `public/${this.run}`;
    this.workDir = mkdtempSync(join(tmpdir(), settings.dirPrefix));
  }

  /** A topic of the cluster's own: `members`, `assignments`, `connectors`, `packages`. */
  topic(name: string): string {
    return `persistent://${this.namespace}/pulsar-connect-${this.run}-${name}`;
  }

  /** The options every worker of the cluster has, in a process of its own or in this one. */
  workerOptions(port: number, dataDir: string): WorkerOptions {
    return {
      port,
      dataDir,
      hostDirs: [join(import.meta.dirname, "..")],
      preferSource: true,
      pulsarServiceUrl: this.serviceUrl,
      pulsarAdminUrl: this.adminUrl,
      cluster: this.run,
      clusterMode: {
        namespace: this.namespace,
        leaseMs: this.settings.leaseMs,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs ?? 500,
      },
    };
  }

  /** Starts a worker process on `port`; resolves once its admin API listens. */
  async start(port: number): Promise<ClusterWorker> {
    this.launches += 1;
    const log = join(this.workDir, `worker-${port}-${this.launches}.log`);
    const dataDir = join(
      this.workDir,
      this.settings.dataDirPerStart ? `data-${port}-${this.launches}` : `data-${port}`,
    );
    const child = spawn(
      process.execPath,
      ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/run-cluster-worker.ts")],
      {
        env: {
          ...process.env,
          PC_WORKER_LOG: log,
          PC_WORKER_OPTIONS: JSON.stringify({
            ...this.workerOptions(port, dataDir),
            backoff: { initialMs: 200, maxMs: 1_000 },
            ...this.settings.processOptions?.(port),
          }),
        },
        stdio: [this.settings.stdin ?? "ignore", "pipe", "inherit"],
      },
    );
    this.spawned.push(child);
    const url = await listeningUrl(child, `the worker on port ${port}`);
    const worker = { port, url, workerId: `127.0.0.1:${port}`, child, log, dataDir };
    this.workers.set(port, worker);
    return worker;
  }

  /** Sends `signal` to the worker, which stops counting as live; resolves once its process exited. */
  kill(worker: ClusterWorker, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const gone = new Promise<void>((done) => worker.child.once("exit", () => done()));
    worker.child.kill(signal);
    this.workers.delete(worker.port);
    return gone;
  }

  anyWorker(): ClusterWorker {
    const first = [...this.workers.values()][0];
    if (!first) throw new Error("no worker is running");
    return first;
  }

  /** Every message on one of the cluster's topics (see `topic`), from the earliest. */
  async readTopic(name: string): Promise<Message[]> {
    const client = new PulsarClient({ serviceUrl: this.serviceUrl });
    try {
      const reader = await client.createReader({ topic: this.topic(name), startMessageId: MessageId.earliest });
      const messages: Message[] = [];
      while (await reader.hasMessageAvailable()) messages.push(await reader.readNext(10_000));
      await reader.close();
      return messages;
    } finally {
      await client.close();
    }
  }

  /** The leader named by the latest placement on the cluster's assignments topic. */
  async leaderId(): Promise<string> {
    let leader = "";
    for (const message of await this.readTopic("assignments")) {
      leader = (JSON.parse(message.data.toString("utf8")) as { leader: string }).leader;
    }
    return leader;
  }

  /** The instances of a connector, as the cluster's status answers them through `via`. */
  async instances(
    kind: "sink" | "source",
    name: string,
    via: ClusterWorker = this.anyWorker(),
  ): Promise<InstanceStatuses> {
    const answer = await http(via.url, "GET", `/admin/v3/${kind}s/${this.namespace}/${name}/status`);
    if (answer.status !== 200) throw new Error(`status of ${name}: HTTP ${answer.status} ${answer.text}`);
    return answer.json.instances as InstanceStatuses;
  }

  /**
   * Posts a connector through any live worker until it is accepted; 503 (no leader yet) is retried, any other
   * refusal fails.
   */
  async create(path: string, body: unknown, what = `${path} accepted`): Promise<void> {
    await until(
      async () => {
        const answer = await http(this.anyWorker().url, "POST", path, body);
        if (answer.status >= 300 && answer.status !== 503) throw new Error(`${path}: ${answer.status} ${answer.text}`);
        return answer.status < 300;
      },
      30_000,
      what,
    );
  }

  /** Kills every worker process still there (frozen ones too), deletes the namespace and the work folder. */
  async close(): Promise<void> {
    for (const child of this.spawned) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      }
    }
    await new PulsarAdmin({ serviceUrl: this.adminUrl })
      .deleteNamespace(this.namespace, { force: true })
      .catch(() => undefined);
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
