import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, dirname, join, resolve } from "node:path";
import { HOST_FILE_DIRS_ENV, type Logger } from "@pulsar-connect/core/host";
import {
  type Authentication,
  authenticationFromPlugin,
  isPulsarClientError,
  PulsarAdmin,
  PulsarClient,
  tokenAuthentication,
} from "@pulsar-connect/pulsar-client";
import {
  ConnectorCatalog,
  type createInstance as createRuntimeInstance,
  type DiscoveryOptions,
  INSTANCE_RUNTIMES,
  type InstancePulsar,
  type InstanceRuntime,
} from "@pulsar-connect/runtime";
import { pino } from "pino";
import { WorkerError } from "./errors.ts";
import { AdminRoutes } from "./internal/admin-routes.ts";
import { Authenticator, type AuthOptions } from "./internal/auth.ts";
import { ClusterRoutes, FORWARDED_HEADER } from "./internal/cluster/cluster-routes.ts";
import { ClusterScheduler, clusterTopics, instanceKey } from "./internal/cluster/cluster-scheduler.ts";
import { ClusterStore } from "./internal/cluster/cluster-store.ts";
import { fencingTopics } from "./internal/cluster/fencing-topics.ts";
import { PackageSweeper } from "./internal/cluster/package-sweeper.ts";
import { PackageTopic, packageTopicOf } from "./internal/cluster/package-topic.ts";
import { ThreadHeartbeatChannel } from "./internal/cluster/thread-heartbeat-channel.ts";
import {
  ConnectorManager,
  DEFAULT_MAX_PACKAGE_BYTES,
  type ResolvedConfig,
  workerClientOptions,
} from "./internal/connector-manager.ts";
import type { ConnectorStore } from "./internal/connector-store.ts";
import { WorkerConsole } from "./internal/console/index.ts";
import { ConnectorLogs } from "./internal/console/logs.ts";
import { ConnectorPackages } from "./internal/packages.ts";
import { SecretScrubber } from "./internal/redact.ts";
import {
  type ClusterView,
  clusterViewOf,
  type InstanceRef,
  type Scheduler,
  StandaloneClusterView,
  StandaloneScheduler,
} from "./internal/scheduler.ts";
import { FileStore } from "./internal/store.ts";
import { type BackoffPolicy, DEFAULT_STOP_TIMEOUT_MS } from "./internal/supervisor.ts";

// An ES import of node:http reads every export, WebSocket included, which loads Node's bundled fetch/WebSocket
// implementation (about 1 MB of source kept in the heap); the CommonJS view only loads what is used.
const { createServer } = process.getBuiltinModule("node:http");

/** The Pulsar client the worker shares between its instances. */
export type PulsarClientHandle = InstancePulsar["client"] & { close?(): Promise<void> };

/** Creates one connector instance; the runtime's `createInstance` unless replaced (tests). */
export type InstanceFactory = typeof createRuntimeInstance;

/** Where log lines go when the worker makes its own logger. */
export interface LogDestination {
  write(line: string): unknown;
}

/** Options of {@link Worker.start}. */
export interface WorkerOptions {
  /** Port of the admin API (6750; 0 picks a free port). */
  port?: number;
  /** Address to listen on (127.0.0.1). */
  host?: string;
  /** Folder of the connector store (`./pulsar-connect-data`). */
  dataDir?: string;
  /** Pulsar binary protocol URL (`pulsar://127.0.0.1:6650`). */
  pulsarServiceUrl?: string;
  /** Pulsar admin REST URL (`http://127.0.0.1:8080`). */
  pulsarAdminUrl?: string;
  /** Token the worker uses towards Pulsar. */
  pulsarAuthToken?: string;
  /**
   * Authentication plugin towards Pulsar, as the Java client names it: `...auth.AuthenticationToken`,
   * `...auth.AuthenticationTls` or `...auth.oauth2.AuthenticationOAuth2`, with `pulsarAuthParams`. Replaces
   * `pulsarAuthToken`.
   */
  pulsarAuthPlugin?: string;
  /** Parameters of `pulsarAuthPlugin` (`token:...`, `file:...`, `tlsCertFile:...,tlsKeyFile:...`, or JSON). */
  pulsarAuthParams?: string;
  /** CA certificate (PEM file) trusted for a `pulsar+ssl://` service URL. */
  pulsarTlsTrustCertsFilePath?: string;
  /** Accept a broker certificate that does not verify (false). */
  pulsarTlsAllowInsecureConnection?: boolean;
  /** Check that the broker certificate names its host (true; false checks the chain only). */
  pulsarTlsEnableHostnameVerification?: boolean;
  /** Folders with a package.json whose connector dependencies are added to the worker's own. */
  connectorsDirs?: string[];
  /** Replaces the default host folder (the nearest package.json above the current directory). */
  hostDirs?: string[];
  /** Load connectors from TypeScript sources (monorepo development). */
  preferSource?: boolean;
  /** Bearer-token authentication; without it the API is open. */
  auth?: AuthOptions;
  /** A logger to use instead of the worker's own pino logger. */
  logger?: Logger;
  /** Where the worker's own JSON logs go (stdout). Secret values are removed from every line. */
  logDestination?: LogDestination;
  /** Log level of the worker's own logger (info). */
  logLevel?: string;
  /** Largest accepted request body in bytes (5 MiB). */
  maxBodyBytes?: number;
  /**
   * Cluster name: the label of the metrics (standalone), and with `clusterMode` the cluster this worker joins (its
   * topics are named after it).
   */
  cluster?: string;
  /**
   * Joins the cluster named `cluster` through the Pulsar service instead of running standalone: connector configs,
   * membership and placement live in topics of a namespace, every worker runs the instances the leader places on it.
   */
  clusterMode?: ClusterModeOptions;
  /** Restart backoff of failed instances. */
  backoff?: Partial<BackoffPolicy>;
  /**
   * How long a graceful stop (drain) of an instance may take (25 s, below Kubernetes' 30 s grace period); after
   * it the instance's connector and Pulsar handles are closed forcibly.
   */
  stopTimeoutMs?: number;
  /** A ready catalog instead of discovery. */
  catalog?: ConnectorCatalog;
  /** Replaces the runtime's instance factory. */
  createInstance?: InstanceFactory;
  /** Largest `parallelism` a connector may ask for (32); a config above it is refused before it is stored. */
  maxParallelism?: number;
  /**
   * Environment variables a connector's `secrets` may read with `{"env": "NAME"}`; an entry ending in `*` allows a
   * prefix (`PC_SECRET_*`). None by default: the worker's environment is not readable through the API.
   */
  secretsEnv?: string[];
  /** Folder whose files a connector's `secrets` may read with `{"file": "name"}` (no subfolders). */
  secretsDir?: string;
  /**
   * Host folders that connector configs may name files in (SQLite databases, CA files). Without it, configs may name
   * any path the worker can reach: set it when the worker serves more than one team.
   */
  fileDirs?: string[];
  /**
   * Who may install connector packages (an uploaded npm tarball, or an `http(s)://`/`file://` archive the worker
   * fetches): `superusers` (default), `tenant-admins` (anyone who manages the connector's tenant), or `none`.
   */
  packageUploaders?: PackageUploaders;
  /** Largest connector package (tarball) in bytes (50 MiB). */
  maxPackageBytes?: number;
  /** Creates the Pulsar client instead of `new PulsarClient(...)` from @pulsar-connect/pulsar-client. */
  createPulsarClient?: () => Promise<PulsarClientHandle> | PulsarClientHandle;
  /**
   * Where instances run unless their `customRuntimeOptions` say `{"runtime": ...}`: `in-process` (default) in the
   * worker's Node process, or `process`, one Node child process per instance (isolated; `resources.ram` is its heap
   * limit, `runtimeFlags` its Node flags). Instances in processes open their own Pulsar connection and ignore
   * `createPulsarClient` and `createInstance`.
   */
  runtime?: InstanceRuntime;
  /**
   * Where instances of uploaded or URL connector packages (`--archive`) run unless a connector chooses with
   * `customRuntimeOptions`: `process` by default, so that code the operator did not install harms no other instance.
   */
  uploadedPackagesRuntime?: InstanceRuntime;
  /** How long an instance process may stay silent (blocked event loop) before it is killed and restarted (10 s). */
  heartbeatTimeoutMs?: number;
}

/** Settings of cluster mode ({@link WorkerOptions.clusterMode}). */
export interface ClusterModeOptions {
  /** Namespace (`tenant/namespace`) of the cluster's topics (`public/default`); created when missing. */
  namespace?: string;
  /** A worker whose heartbeat is older than this is gone and loses its instances (5000 ms). */
  leaseMs?: number;
  /** How often each worker renews its lease (1000 ms); at most half the lease. */
  heartbeatIntervalMs?: number;
  /** URL of this worker's admin API as the other workers reach it (`http://<listen address>:<port>`). */
  advertisedUrl?: string;
}

const CLUSTER_MODE_KEYS = new Set(["namespace", "leaseMs", "heartbeatIntervalMs", "advertisedUrl"]);

/** Checks cluster mode settings; answers them with their defaults. */
function clusterSettingsOf(options: WorkerOptions): Required<Omit<ClusterModeOptions, "advertisedUrl">> & {
  cluster: string;
  advertisedUrl?: string;
} {
  const mode = options.clusterMode as unknown;
  if (mode === null || typeof mode !== "object" || Array.isArray(mode)) {
    throw new WorkerError("INVALID_CONFIG", "clusterMode must be a mapping of cluster settings");
  }
  const unknown = Object.keys(mode).filter((key) => !CLUSTER_MODE_KEYS.has(key));
  if (unknown.length > 0) {
    throw new WorkerError(
      "INVALID_CONFIG",
      `clusterMode: unknown setting(s) ${unknown.join(", ")} (known: ${[...CLUSTER_MODE_KEYS].join(", ")})`,
    );
  }
  const given = mode as ClusterModeOptions;
  const cluster = options.cluster;
  if (typeof cluster !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(cluster)) {
    throw new WorkerError(
      "INVALID_CONFIG",
      `cluster must name the cluster to join in cluster mode (letters, digits, '_', '.', '-'; got ${JSON.stringify(cluster)})`,
    );
  }
  const namespace = given.namespace ?? "public/default";
  if (typeof namespace !== "string" || !/^[^/\s]+\/[^/\s]+$/.test(namespace)) {
    throw new WorkerError(
      "INVALID_CONFIG",
      `clusterMode.namespace must be tenant/namespace (got ${JSON.stringify(namespace)})`,
    );
  }
  const leaseMs = given.leaseMs ?? 5_000;
  if (!(Number.isInteger(leaseMs) && leaseMs >= 500)) {
    throw new WorkerError(
      "INVALID_CONFIG",
      `clusterMode.leaseMs must be a whole number of milliseconds, at least 500 (got ${String(leaseMs)})`,
    );
  }
  const heartbeatIntervalMs = given.heartbeatIntervalMs ?? Math.min(1_000, Math.floor(leaseMs / 3));
  if (!(Number.isInteger(heartbeatIntervalMs) && heartbeatIntervalMs >= 50 && heartbeatIntervalMs * 2 <= leaseMs)) {
    throw new WorkerError(
      "INVALID_CONFIG",
      `clusterMode.heartbeatIntervalMs must be a whole number of milliseconds, at least 50 and at most half of leaseMs (got ${String(heartbeatIntervalMs)})`,
    );
  }
  const settings: ReturnType<typeof clusterSettingsOf> = { cluster, namespace, leaseMs, heartbeatIntervalMs };
  if (given.advertisedUrl !== undefined) {
    if (typeof given.advertisedUrl !== "string" || !/^https?:\/\/[^/]+\/?$/.test(given.advertisedUrl)) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `clusterMode.advertisedUrl must be http(s)://host:port (got ${JSON.stringify(given.advertisedUrl)})`,
      );
    }
    settings.advertisedUrl = given.advertisedUrl.replace(/\/$/, "");
  }
  return settings;
}

/** Who may install connector packages on a worker. */
export type PackageUploaders = "superusers" | "tenant-admins" | "none";

const PACKAGE_UPLOADERS: readonly PackageUploaders[] = ["superusers", "tenant-admins", "none"];

/** The worker's credentials towards Pulsar; a setting it cannot honour stops the start, naming the setting. */
function pulsarAuthenticationOf(options: WorkerOptions): Authentication | undefined {
  if (options.pulsarAuthToken !== undefined && options.pulsarAuthPlugin !== undefined) {
    throw new WorkerError("INVALID_CONFIG", "give pulsarAuthToken or pulsarAuthPlugin/pulsarAuthParams, not both");
  }
  if (options.pulsarAuthToken) return tokenAuthentication(options.pulsarAuthToken);
  const caFile = options.pulsarTlsTrustCertsFilePath;
  if (caFile !== undefined && !existsSync(caFile)) {
    throw new WorkerError("INVALID_CONFIG", `pulsarTlsTrustCertsFilePath: file ${caFile} does not exist`);
  }
  try {
    return authenticationFromPlugin(options.pulsarAuthPlugin, options.pulsarAuthParams);
  } catch (error) {
    if (!isPulsarClientError(error)) throw error;
    throw new WorkerError("INVALID_CONFIG", `pulsarAuthPlugin/pulsarAuthParams: ${error.message}`, { cause: error });
  }
}

function nearestPackageDir(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The pulsar-connect worker: serves the pulsar-admin compatible REST API, keeps connector configs and their
 * desired state in a file store, and supervises connector instances, in its own process or one process each.
 */
export class Worker {
  /** Base URL of the admin API, e.g. `http://127.0.0.1:6750`. */
  url = "";
  /** Identifier shown in instance status (`host:port`). */
  workerId = "";
  private readonly options: WorkerOptions;
  private readonly logger: Logger;
  private readonly scrubber: SecretScrubber;
  private readonly auth: Authenticator;
  private readonly store: ConnectorStore;
  private readonly packages: ConnectorPackages;
  private readonly scheduler: Scheduler;
  /** Cluster mode only: membership, leadership and placement, and the client they use. */
  private readonly cluster:
    | {
        settings: ReturnType<typeof clusterSettingsOf>;
        client: PulsarClient;
        scheduler: ClusterScheduler;
        store: ClusterStore;
        packages: PackageTopic;
        packageSweeper: PackageSweeper;
      }
    | undefined;
  private manager: ConnectorManager | undefined;
  private routes: AdminRoutes | undefined;
  private console: WorkerConsole | undefined;
  private clusterRoutes: ClusterRoutes | undefined;
  private server: Server | undefined;
  /** From `pulsarAuthPlugin`/`pulsarAuthParams`, or the fixed `pulsarAuthToken`. */
  private pulsarAuthentication: Authentication | undefined;
  private connectorLogs: ConnectorLogs | undefined;
  private closing = false;
  private previousFileDirs: string | undefined;
  private ready = false;

  private constructor(
    options: WorkerOptions,
    scrubber: SecretScrubber,
    logger: Logger,
    authentication: Authentication | undefined,
  ) {
    this.options = options;
    this.scrubber = scrubber;
    this.logger = logger;
    this.auth = new Authenticator(options.auth);
    const dataDir = resolve(options.dataDir ?? "pulsar-connect-data");
    if (options.clusterMode !== undefined) {
      const settings = clusterSettingsOf(options);
      const client = new PulsarClient(workerClientOptions(options, authentication));
      const topics = clusterTopics(settings.namespace, settings.cluster);
      const store = new ClusterStore({ client, topic: topics.connectors, writerId: `${process.pid}-${randomUUID()}` });
      // Heartbeats go from a thread of their own: long synchronous work of in-process instances on this thread
      // would otherwise delay them past the lease, and the instances of a live worker would move.
      const heartbeats = new ThreadHeartbeatChannel({
        client: workerClientOptions(options, undefined),
        auth: { token: options.pulsarAuthToken, plugin: options.pulsarAuthPlugin, params: options.pulsarAuthParams },
        onWarning: (message) => logger.warn({ err: message }, "cluster heartbeat not sent"),
      });
      const scheduler = new ClusterScheduler({
        client,
        topics,
        leaseMs: settings.leaseMs,
        heartbeatIntervalMs: settings.heartbeatIntervalMs,
        heartbeats,
        logger,
        demands: () => this.manager?.clusterDemands() ?? [],
        runningHere: () => this.manager?.instancesHeldHere() ?? [],
        // The leader is the store's one writer, and places nothing before it read every stored connector.
        writer: {
          take: async () => {
            await store.takeWriter();
            await store.caughtUp(settings.leaseMs * 2);
          },
          open: () => {
            store.openWriter();
            void this.cluster?.packageSweeper.sweep();
          },
          lost: () => store.writerLost(),
          drop: () => store.dropWriter(),
        },
      });
      const packages = new PackageTopic({ client, topic: packageTopicOf(settings.namespace, settings.cluster) });
      const packageSweeper = new PackageSweeper({
        packages,
        inUse: () => (this.ready ? this.manager?.packagesInUse() : undefined),
        isLeader: () => scheduler.isLeader(),
        logger,
      });
      this.cluster = { settings, client, scheduler, store, packages, packageSweeper };
      this.store = store;
      this.scheduler = scheduler;
    } else {
      this.store = new FileStore(dataDir);
      this.scheduler = new StandaloneScheduler();
    }
    this.packages = new ConnectorPackages({
      root: join(dataDir, "packages"),
      maxBytes: options.maxPackageBytes ?? DEFAULT_MAX_PACKAGE_BYTES,
    });
  }

  /** Starts a worker: discovers connectors, restores stored connectors in their last state, listens. */
  static async start(options: WorkerOptions = {}): Promise<Worker> {
    const scrubber = new SecretScrubber();
    const secretsOfAuth = [
      ...(options.auth?.tokens ?? []).map((entry) => entry.token),
      ...(options.auth?.jwtSecret ? [options.auth.jwtSecret] : []),
      ...(options.pulsarAuthToken ? [options.pulsarAuthToken] : []),
      ...(options.pulsarAuthParams ? [options.pulsarAuthParams] : []),
    ];
    scrubber.addPermanent(secretsOfAuth);
    const destination = options.logDestination ?? process.stdout;
    // The console shows each connector's latest lines: only from the worker's own logger, whose lines it can read.
    const connectorLogs = options.logger ? undefined : new ConnectorLogs();
    const logger: Logger =
      options.logger ??
      (pino(
        { level: options.logLevel ?? "info", base: { service: "pulsar-connect-worker" } },
        {
          write: (line: string) => {
            const clean = scrubber.scrub(line);
            connectorLogs?.add(clean);
            destination.write(clean);
          },
        },
      ) as unknown as Logger);
    const max = options.maxParallelism;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new WorkerError("INVALID_CONFIG", `maxParallelism must be a positive integer (got ${String(max)})`);
    }
    if (
      options.secretsEnv !== undefined &&
      !(
        Array.isArray(options.secretsEnv) &&
        options.secretsEnv.every((rule) => typeof rule === "string" && rule !== "" && rule !== "*")
      )
    ) {
      throw new WorkerError("INVALID_CONFIG", "secretsEnv must be a list of variable names or NAME_PREFIX_* entries");
    }
    if (
      options.fileDirs !== undefined &&
      !(Array.isArray(options.fileDirs) && options.fileDirs.every((dir) => typeof dir === "string" && dir !== ""))
    ) {
      throw new WorkerError("INVALID_CONFIG", "fileDirs must be a list of folders");
    }
    if (
      options.uploadedPackagesRuntime !== undefined &&
      !(INSTANCE_RUNTIMES as readonly unknown[]).includes(options.uploadedPackagesRuntime)
    ) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `uploadedPackagesRuntime must be ${INSTANCE_RUNTIMES.join(" or ")} (got ${String(options.uploadedPackagesRuntime)})`,
      );
    }
    if (options.runtime !== undefined && !(INSTANCE_RUNTIMES as readonly unknown[]).includes(options.runtime)) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `runtime must be ${INSTANCE_RUNTIMES.join(" or ")} (got ${String(options.runtime)})`,
      );
    }
    const heartbeat = options.heartbeatTimeoutMs;
    if (heartbeat !== undefined && !(Number.isInteger(heartbeat) && heartbeat >= 1000)) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `heartbeatTimeoutMs must be a whole number of milliseconds, at least 1000 (got ${String(heartbeat)})`,
      );
    }
    if (options.secretsDir !== undefined && (typeof options.secretsDir !== "string" || options.secretsDir === "")) {
      throw new WorkerError("INVALID_CONFIG", "secretsDir must be a folder");
    }
    const pulsarAuthentication = pulsarAuthenticationOf(options);
    if (options.packageUploaders !== undefined && !PACKAGE_UPLOADERS.includes(options.packageUploaders)) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `packageUploaders must be one of ${PACKAGE_UPLOADERS.join(", ")} (got ${JSON.stringify(options.packageUploaders)})`,
      );
    }
    const maxPackageBytes = options.maxPackageBytes;
    if (maxPackageBytes !== undefined && !(Number.isInteger(maxPackageBytes) && maxPackageBytes > 0)) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `maxPackageBytes must be a positive whole number of bytes (got ${String(maxPackageBytes)})`,
      );
    }
    const worker = new Worker(options, scrubber, logger, pulsarAuthentication);
    worker.connectorLogs = connectorLogs;
    worker.pulsarAuthentication = pulsarAuthentication;
    if (options.fileDirs !== undefined) {
      // Connectors read the allowed folders from the environment of the process they run in.
      worker.previousFileDirs = process.env[HOST_FILE_DIRS_ENV];
      process.env[HOST_FILE_DIRS_ENV] = options.fileDirs.map((dir) => resolve(dir)).join(delimiter);
    } else if (options.auth) {
      logger.warn("fileDirs is not set: connector configs may name any file the worker can reach");
    }
    await worker.open();
    return worker;
  }

  private async open(): Promise<void> {
    const options = this.options;
    const stopTimeoutMs = options.stopTimeoutMs;
    if (stopTimeoutMs !== undefined && !(Number.isInteger(stopTimeoutMs) && stopTimeoutMs > 0)) {
      throw new WorkerError(
        "INVALID_CONFIG",
        `stopTimeoutMs must be a positive whole number of milliseconds (got ${String(stopTimeoutMs)})`,
      );
    }
    const catalog = options.catalog ?? (await ConnectorCatalog.discover(this.discoveryOptions()));
    for (const problem of catalog.problems) {
      this.logger.warn({ packageName: problem.packageName }, `connector package refused: ${problem.message}`);
    }
    this.logger.info(
      {
        sinks: catalog.list("sink").map((c) => c.name),
        sources: catalog.list("source").map((c) => c.name),
      },
      "connectors discovered",
    );
    const manager = new ConnectorManager({
      options,
      logger: this.logger,
      scrubber: this.scrubber,
      store: this.store,
      packages: this.packages,
      scheduler: this.scheduler,
      catalog,
      pulsarAuthentication: this.pulsarAuthentication,
      ...(this.cluster
        ? {
            beforeStart: (instance: InstanceRef, config: ResolvedConfig) => this.fenceLapsedOwner(instance, config),
            stoppedEverywhere: (instances: InstanceRef[]) =>
              (this.cluster as NonNullable<Worker["cluster"]>).scheduler.stoppedEverywhere(
                instances,
                (options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS) +
                  (this.cluster as NonNullable<Worker["cluster"]>).settings.leaseMs,
              ),
            sharedPackages: this.cluster.packages,
          }
        : {}),
    });
    this.manager = manager;
    const routes = new AdminRoutes({
      options,
      logger: this.logger,
      scrubber: this.scrubber,
      auth: this.auth,
      manager,
      ready: () => this.ready,
      webConsole: this.webConsole(manager),
      cluster: clusterViewOf(this.scheduler, () => new StandaloneClusterView(() => this.url, manager)),
    });
    this.routes = routes;
    if (this.cluster) {
      await this.prepareClusterTopics(this.cluster.settings);
      this.clusterRoutes = new ClusterRoutes({
        scheduler: this.cluster.scheduler,
        manager,
        auth: this.auth,
        logger: this.logger,
        selfId: () => this.workerId,
        maxBodyBytes:
          (options.maxBodyBytes ?? 5 * 1024 * 1024) + (options.maxPackageBytes ?? DEFAULT_MAX_PACKAGE_BYTES),
        localFiles: {
          packages: this.cluster.packages,
          fileDirs: options.fileDirs ?? [],
          maxPackageBytes: options.maxPackageBytes ?? DEFAULT_MAX_PACKAGE_BYTES,
          ...(options.packageUploaders !== undefined ? { packageUploaders: options.packageUploaders } : {}),
        },
      });
    }
    await this.store.init();
    const server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server = server;
    await new Promise<void>((done, fail) => {
      const failed = (error: Error) => {
        void this.store.release();
        fail(error);
      };
      server.once("error", failed);
      server.listen(options.port ?? 6750, options.host ?? "127.0.0.1", () => {
        server.off("error", failed);
        done();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
    this.workerId = `${address.address}:${address.port}`;
    manager.workerId = this.workerId;
    const { restored, running, stopped } = await manager.restore();
    if (this.cluster) {
      const { scheduler, store, settings } = this.cluster;
      await scheduler.start({
        workerId: this.workerId,
        workerHostname: address.address,
        port: address.port,
        url: settings.advertisedUrl ?? this.url,
      });
      void store.follow(
        (change) => manager.applyStoredChange(change),
        (problem) => this.logger.warn(`connector store: ${problem}`),
      );
    }
    this.ready = true;
    this.cluster?.packageSweeper.start();
    this.logger.info(
      {
        url: this.url,
        restored,
        instancesRunning: running,
        instancesStopped: stopped,
        ...(this.cluster ? { cluster: this.cluster.settings.cluster } : {}),
      },
      this.cluster ? "worker started in cluster mode" : "worker started",
    );
  }

  /**
   * Before an instance taken over from a worker whose lease lapsed starts here: that worker may be frozen rather than
   * dead, and the broker keeps its connection (the active consumer of a Failover subscription, the producer names of
   * an EFFECTIVELY_ONCE source) until keep-alives time out. Unloading the instance's topics drops every client of
   * them at once; a frozen worker cannot reconnect before it wakes, and when it wakes it finds its lease lapsed.
   */
  private async fenceLapsedOwner(instance: InstanceRef, config: ResolvedConfig): Promise<void> {
    if (!this.cluster?.scheduler.takeTakeoverFromLapsed(instance)) return;
    const admin = new PulsarAdmin({
      serviceUrl: this.options.pulsarAdminUrl ?? "http://127.0.0.1:8080",
      timeoutMs: 5_000,
      ...(this.pulsarAuthentication ? { authentication: this.pulsarAuthentication } : {}),
    });
    let topics: string[] = [];
    try {
      topics = await fencingTopics(instance.kind, config, (namespace) => admin.getTopics(namespace));
    } catch (error) {
      this.logger.warn(
        { instance: instanceKey(instance), err: (error as Error).message },
        "cannot list the topics of a pattern taken over from a lapsed worker",
      );
    }
    await Promise.all(
      [...new Set(topics)].map(async (topic) => {
        try {
          await admin.unloadTopic(topic);
        } catch (error) {
          this.logger.warn(
            { topic, err: (error as Error).message },
            "cannot unload a topic taken over from a lapsed worker",
          );
        }
      }),
    );
    this.logger.info(
      { instance: instanceKey(instance), topics },
      "topics unloaded to fence the instance's previous owner",
    );
  }

  /** What this worker knows of its cluster; undefined for a standalone worker. */
  clusterView(): ClusterView | undefined {
    return this.cluster?.scheduler;
  }

  /** Creates the cluster's namespace when missing and keeps its topics compacted (best effort: rights may lack). */
  private async prepareClusterTopics(settings: ReturnType<typeof clusterSettingsOf>): Promise<void> {
    const admin = new PulsarAdmin({
      serviceUrl: this.options.pulsarAdminUrl ?? "http://127.0.0.1:8080",
      timeoutMs: 10_000,
      ...(this.pulsarAuthentication ? { authentication: this.pulsarAuthentication } : {}),
    });
    try {
      await admin.createNamespace(settings.namespace, { ifNotExists: true });
    } catch (error) {
      this.logger.warn(
        { namespace: settings.namespace, err: (error as Error).message },
        "cannot create the cluster namespace; using it as it is",
      );
    }
    const topics = clusterTopics(settings.namespace, settings.cluster);
    const packages = packageTopicOf(settings.namespace, settings.cluster);
    for (const topic of [topics.members, topics.assignments, topics.connectors, packages]) {
      try {
        // The policy needs the topic: created here when this is the cluster's first worker.
        await admin.createTopic(topic).catch(() => undefined);
        await admin.setCompactionThreshold(topic, 1024 * 1024);
      } catch (error) {
        this.logger.warn(
          { topic, err: (error as Error).message },
          "cannot set the compaction threshold of a cluster topic",
        );
      }
    }
  }

  /** The web console; it sees the connectors through this view only. */
  private webConsole(manager: ConnectorManager): WorkerConsole {
    this.console?.close();
    this.console = new WorkerConsole({
      authenticate: (header) => this.auth.authenticate(header),
      mayManage: (principal, tenant) => {
        try {
          this.auth.authorizeTenant(principal, tenant);
          return true;
        } catch {
          return false;
        }
      },
      ready: () => this.ready,
      connectors: () => manager.consoleView(),
      logs: () => this.connectorLogs,
      pulsar: async () => (await manager.sharedPulsarClient()) as unknown as PulsarClient,
      subscriptionBacklog: async (topic, subscription) => {
        const admin = new PulsarAdmin({
          serviceUrl: this.options.pulsarAdminUrl ?? "http://127.0.0.1:8080",
          timeoutMs: 5_000,
          ...(this.pulsarAuthentication ? { authentication: this.pulsarAuthentication } : {}),
        });
        const stats = (await admin.getTopicStats(topic)) as {
          subscriptions?: Record<string, { msgBacklog?: number }>;
        };
        return stats.subscriptions?.[subscription]?.msgBacklog ?? 0;
      },
      ...(this.cluster
        ? {
            otherOwners: (connector: Omit<InstanceRef, "instanceId">, instanceIds: number[]) => {
              const owners = new Map<string, { workerId: string; url: string }>();
              for (const instanceId of instanceIds) {
                const owner = this.cluster?.scheduler.ownerUrl({ ...connector, instanceId });
                if (owner && owner.workerId !== this.workerId) owners.set(owner.workerId, owner);
              }
              return [...owners.values()];
            },
            fetchFromWorker: async (owner: { url: string }, path: string, authorization: string | undefined) => {
              const answer = await fetch(`${owner.url}${path}`, {
                headers: {
                  ...(authorization === undefined ? {} : { authorization }),
                  [FORWARDED_HEADER]: this.workerId,
                },
                signal: AbortSignal.timeout(2_000),
              });
              if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
              return (await answer.json()) as unknown;
            },
          }
        : {}),
    });
    return this.console;
  }

  /** The HTTP entry point: in a cluster, requests for other workers are sent on; the routes answer the rest. */
  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.clusterRoutes && this.ready && (await this.clusterRoutes.handle(request, response))) return;
    await this.routes?.handle(request, response);
  }

  private discoveryOptions(): DiscoveryOptions {
    const own = nearestPackageDir(process.cwd());
    const hostDirs = this.options.hostDirs ?? (own ? [own] : []);
    const all = [...hostDirs, ...(this.options.connectorsDirs ?? []).map((dir) => resolve(dir))];
    // Connector modules load when a connector names them, so an idle worker holds only manifests.
    const result: DiscoveryOptions = { hostDirs: [...new Set(all)], lazy: true };
    if (this.options.preferSource !== undefined) result.preferSource = this.options.preferSource;
    return result;
  }

  /** Stops every instance gracefully, then the HTTP server and the Pulsar client. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // The console's event streams never end on their own: without this, the server would wait for them.
    this.console?.close();
    const server = this.server;
    const closed = server
      ? new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        })
      : Promise.resolve();
    // A member leaving gracefully says so first: the leader places nothing more here while it drains.
    await this.cluster?.scheduler.announceLeaving().catch(() => undefined);
    await this.manager?.stopInstances();
    this.cluster?.packageSweeper.stop();
    await this.cluster?.scheduler.close();
    server?.closeAllConnections();
    await closed;
    await this.manager?.closePulsarClient();
    await this.store.release();
    await this.cluster?.packages.close();
    await this.cluster?.client.close().catch(() => undefined);
    if (this.options.fileDirs !== undefined) {
      if (this.previousFileDirs === undefined) delete process.env[HOST_FILE_DIRS_ENV];
      else process.env[HOST_FILE_DIRS_ENV] = this.previousFileDirs;
    }
    this.logger.info("worker stopped");
  }
}
