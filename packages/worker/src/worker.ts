import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, dirname, join, resolve } from "node:path";
import {
  type ConfigSchema,
  type ConfigWarning,
  compatWarnings,
  configFieldDefinitions,
  type FieldIssue,
  type FunctionDefinition,
  formatIssues,
  HOST_FILE_DIRS_ENV,
  type Logger,
  REDACTED,
  type SinkDefinition,
  type SourceDefinition,
} from "@pulsar-connect/core";
import {
  type Authentication,
  authenticationFromPlugin,
  isPulsarClientError,
  PulsarAdmin,
  PulsarClient,
  type PulsarClientOptions,
  tokenAuthentication,
} from "@pulsar-connect/pulsar-client";
import {
  builtinName,
  ConnectorCatalog,
  type ConnectorInstance,
  checkTransformFunction,
  configWarnings,
  createInstance as createRuntimeInstance,
  type DiscoveredConnector,
  deleteSinkSubscription,
  INSTANCE_RUNTIMES,
  type InstancePulsar,
  type InstanceRuntime,
  mergeSinkUpdate,
  mergeSourceUpdate,
  type ResolvedSinkConfig,
  type ResolvedSourceConfig,
  referencedTenants,
  resolveSinkConfig,
  resolveSourceConfig,
  type SinkConfig,
  type SourceConfig,
  transformFunctionName,
  validateConnectorConfigs,
} from "@pulsar-connect/runtime";
import { pino } from "pino";
import { WorkerError } from "./errors.ts";
import { archiveKind, fetchArchive, uploadArchive } from "./internal/archive-fetch.ts";
import { Authenticator, type AuthOptions, type Principal } from "./internal/auth.ts";
import { WorkerConsole } from "./internal/console/index.ts";
import { ConnectorLogs } from "./internal/console/logs.ts";
import { readBody, readSubmission, type Submission, sendJson, sendNoContent, sendText } from "./internal/http.ts";
import { MinuteWindows, renderMetrics } from "./internal/metrics.ts";
import { ConnectorPackages, type InstalledPackage } from "./internal/packages.ts";
import type { PulsarAuthSettings } from "./internal/process-runtime/protocol.ts";
import { createProcessInstance, runtimeIssues, runtimeOf } from "./internal/process-runtime/runtime-choice.ts";
import { publicConfig, redactText, SecretScrubber, secretValues } from "./internal/redact.ts";
import { FileStore, type StoredConnector } from "./internal/store.ts";
import { type BackoffPolicy, DEFAULT_BACKOFF, DEFAULT_STOP_TIMEOUT_MS, InstanceSlot } from "./internal/supervisor.ts";

type Kind = "sink" | "source";
type ResolvedConfig = ResolvedSinkConfig | ResolvedSourceConfig;

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
  /** Cluster label of the metrics (standalone). */
  cluster?: string;
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

type Desired = "running" | "stopped";

/** Who may install connector packages on a worker. */
export type PackageUploaders = "superusers" | "tenant-admins" | "none";

const PACKAGE_UPLOADERS: readonly PackageUploaders[] = ["superusers", "tenant-admins", "none"];
const DEFAULT_MAX_PACKAGE_BYTES = 50 * 1024 * 1024;

interface Component {
  kind: Kind;
  config: ResolvedConfig;
  slots: InstanceSlot[];
  /** What the user last asked for, per instance id: what the store holds and what a restore runs. */
  desired: Desired[];
  lock: Promise<void>;
  /** Set once deleted: operations queued behind the delete must not bring it back. */
  deleted: boolean;
  /** The installed package it runs, when its archive is not builtin://. */
  package?: InstalledPackage | undefined;
  /** Why its package could not be restored; its instances fail with this. */
  packageProblem?: string;
}

const KIND_TITLE: Record<Kind, string> = { sink: "Sink", source: "Source" };
const DEFAULT_MAX_PARALLELISM = 32;

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

function pulsarTlsOf(options: WorkerOptions): PulsarClientOptions["tls"] {
  const tls: NonNullable<PulsarClientOptions["tls"]> = {
    hostnameVerification: options.pulsarTlsEnableHostnameVerification !== false,
  };
  if (options.pulsarTlsTrustCertsFilePath !== undefined) {
    tls.ca = readFileSync(options.pulsarTlsTrustCertsFilePath);
  }
  if (options.pulsarTlsAllowInsecureConnection === true) tls.rejectUnauthorized = false;
  return tls;
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

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Config fields that say where a connector connects to (hosts, URLs). */
const DESTINATION_FIELD = /url|uri|host|roots|server|contact|endpoint|address|broker|bootstrap/i;

/**
 * Puts existing values back where an update re-sends the redaction placeholder (a config fetched with `get`),
 * including passwords inside URLs and nested maps. A stored secret is never restored into an update that also
 * changes where the connector connects to: that would send it to a host the caller chose.
 */
function restoreRedacted(update: Record<string, unknown>, existing: ResolvedConfig): void {
  let restored = false;
  const restore = (given: unknown, previous: unknown): unknown => {
    if (given === REDACTED) {
      if (previous === undefined) return given;
      restored = true;
      return previous;
    }
    if (typeof given === "string" && typeof previous === "string" && given.includes(REDACTED)) {
      if (redactText(previous) !== given) return given;
      restored = true;
      return previous;
    }
    if (isPlainObject(given) && isPlainObject(previous)) {
      for (const [key, value] of Object.entries(given)) given[key] = restore(value, previous[key]);
    }
    return given;
  };
  for (const field of ["configs", "secrets"] as const) {
    const given = update[field];
    if (isPlainObject(given)) restore(given, existing[field] ?? {});
  }
  const configs = isPlainObject(update.configs) ? update.configs : {};
  const placeholders = Object.entries(configs).filter(
    ([, value]) => typeof value === "string" && value !== REDACTED && value.includes(REDACTED),
  );
  const moved = Object.keys(configs).filter(
    (key) => DESTINATION_FIELD.test(key) && stableJson(configs[key]) !== stableJson(existing.configs?.[key]),
  );
  const refused = [...placeholders.map(([key]) => key), ...(restored ? moved : [])];
  if (refused.length > 0) {
    const issues = [...new Set(refused)].map((key) => ({
      path: `configs.${key}`,
      message: `changes where the connector connects to while stored secrets are re-sent as '${REDACTED}'; re-enter the secrets with the new destination`,
    }));
    throw new WorkerError("INVALID_CONFIG", formatIssues("Invalid update", issues), { issues });
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
  private readonly store: FileStore;
  private readonly packages: ConnectorPackages;
  /** Packages installed by a submission still being checked, by integrity: not removed meanwhile. */
  private readonly pinnedPackages: Map<string, number> = new Map();
  private readonly components: Map<string, Component> = new Map();
  private readonly minuteWindows: MinuteWindows = new MinuteWindows();
  private catalog!: ConnectorCatalog;
  private server: Server | undefined;
  private client: Promise<PulsarClientHandle> | undefined;
  /** From `pulsarAuthPlugin`/`pulsarAuthParams`, or the fixed `pulsarAuthToken`. */
  private pulsarAuthentication: Authentication | undefined;
  private closing = false;
  private previousFileDirs: string | undefined;
  private ready = false;
  /** Secret values of a submission, hidden from the answer to that request even when the submission is refused. */
  private readonly submittedSecrets: WeakMap<IncomingMessage, string[]> = new WeakMap();
  private console: WorkerConsole | undefined;
  private connectorLogs: ConnectorLogs | undefined;

  private constructor(options: WorkerOptions, scrubber: SecretScrubber, logger: Logger) {
    this.options = options;
    this.scrubber = scrubber;
    this.logger = logger;
    this.auth = new Authenticator(options.auth);
    const dataDir = resolve(options.dataDir ?? "pulsar-connect-data");
    this.store = new FileStore(dataDir);
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
    const worker = new Worker(options, scrubber, logger);
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
    this.catalog = options.catalog ?? (await ConnectorCatalog.discover(this.discoveryOptions()));
    for (const problem of this.catalog.problems) {
      this.logger.warn({ packageName: problem.packageName }, `connector package refused: ${problem.message}`);
    }
    this.logger.info(
      {
        sinks: this.catalog.list("sink").map((c) => c.name),
        sources: this.catalog.list("source").map((c) => c.name),
      },
      "connectors discovered",
    );
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
    const { entries, problems } = await this.store.loadAll();
    for (const problem of problems) this.logger.error(`unreadable connector in the store: ${problem}`);
    for (const entry of entries) {
      const desired = Array.from(
        { length: entry.config.parallelism },
        (_, id): Desired => (entry.stoppedInstances.includes(id) ? "stopped" : "running"),
      );
      const { installed, problem } = await this.restorePackage(entry);
      const component = this.addComponent(entry.kind, entry.config, desired, installed);
      if (problem !== undefined) component.packageProblem = problem;
      this.apply(component);
    }
    await this.packages
      .prune(entries.flatMap((entry) => (entry.package ? [entry.package.integrity] : [])))
      .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, "cannot prune unused packages"));
    this.ready = true;
    const desired = [...this.components.values()].flatMap((component) => component.desired);
    this.logger.info(
      {
        url: this.url,
        restored: entries.length,
        instancesRunning: desired.filter((state) => state === "running").length,
        instancesStopped: desired.filter((state) => state === "stopped").length,
      },
      "worker started",
    );
  }

  /** The package a stored connector runs, installed again when needed; a failure is kept as the reason it cannot run. */
  private async restorePackage(entry: StoredConnector): Promise<{ installed?: InstalledPackage; problem?: string }> {
    if (!entry.package) return {};
    try {
      return { installed: await this.packages.restore(entry.package.integrity, entry.kind) };
    } catch (error) {
      const problem = (error as Error).message;
      this.logger.error(
        { kind: entry.kind, fqfn: `${entry.config.tenant}/${entry.config.namespace}/${entry.config.name}` },
        `cannot restore the connector package: ${problem}`,
      );
      return { problem };
    }
  }

  private discoveryOptions(): { hostDirs: string[]; preferSource?: boolean } {
    const own = nearestPackageDir(process.cwd());
    const hostDirs = this.options.hostDirs ?? (own ? [own] : []);
    const all = [...hostDirs, ...(this.options.connectorsDirs ?? []).map((dir) => resolve(dir))];
    const result: { hostDirs: string[]; preferSource?: boolean } = { hostDirs: [...new Set(all)] };
    if (this.options.preferSource !== undefined) result.preferSource = this.options.preferSource;
    return result;
  }

  /** Stops every instance gracefully, then the HTTP server and the Pulsar client. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const server = this.server;
    const closed = server
      ? new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        })
      : Promise.resolve();
    await Promise.all([...this.components.values()].flatMap((component) => component.slots.map((slot) => slot.stop())));
    server?.closeAllConnections();
    await closed;
    if (this.client) {
      const client = await this.client.catch(() => undefined);
      await client?.close?.().catch(() => undefined);
    }
    await this.store.release();
    if (this.options.fileDirs !== undefined) {
      if (this.previousFileDirs === undefined) delete process.env[HOST_FILE_DIRS_ENV];
      else process.env[HOST_FILE_DIRS_ENV] = this.previousFileDirs;
    }
    this.logger.info("worker stopped");
  }

  // ---------------------------------------------------------------------------------------------------------
  // Components and instances

  private key(kind: Kind, tenant: string, namespace: string, name: string): string {
    return `${kind}:${tenant}/${namespace}/${name}`;
  }

  /** The connector a config runs: an installed package's, or the discovered one its builtin:// names. */
  private connectorOf(
    kind: Kind,
    config: ResolvedConfig,
    installed?: InstalledPackage,
  ): DiscoveredConnector | undefined {
    const name = builtinName(config.archive);
    if (name !== undefined) return this.catalog.get(kind, name);
    return installed?.connector;
  }

  private schemaOf(kind: Kind, config: ResolvedConfig, installed?: InstalledPackage): ConfigSchema | undefined {
    return this.connectorOf(kind, config, installed)?.definition.config;
  }

  /** Options of the worker's Pulsar client; instance processes open their own client with them. */
  /** Options of an instance's Pulsar client, as plain data: an instance process gets them over IPC. */
  private clientOptions(): PulsarClientOptions {
    const clientOptions: PulsarClientOptions = {
      serviceUrl: this.options.pulsarServiceUrl ?? "pulsar://127.0.0.1:6650",
    };
    const tls = pulsarTlsOf(this.options);
    if (tls) clientOptions.tls = tls;
    return clientOptions;
  }

  /** The worker's Pulsar credentials as its settings give them, for an instance process to build its own. */
  private authSettings(): PulsarAuthSettings {
    return {
      token: this.options.pulsarAuthToken,
      plugin: this.options.pulsarAuthPlugin,
      params: this.options.pulsarAuthParams,
    };
  }

  /** Where a connector's instances run: its `customRuntimeOptions` runtime, else the worker's. */
  private runtimeOf(config: ResolvedConfig): InstanceRuntime {
    const uploaded = builtinName(config.archive) === undefined;
    return runtimeOf(config, uploaded ? (this.options.uploadedPackagesRuntime ?? "process") : this.options.runtime);
  }

  private pulsarClient(): Promise<PulsarClientHandle> {
    if (!this.client) {
      this.client = (async () => {
        if (this.options.createPulsarClient) return await this.options.createPulsarClient();
        const clientOptions = this.clientOptions();
        if (this.pulsarAuthentication) clientOptions.authentication = this.pulsarAuthentication;
        return new PulsarClient(clientOptions) as unknown as PulsarClientHandle;
      })();
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }

  private addComponent(
    kind: Kind,
    config: ResolvedConfig,
    desired: Desired[],
    installed: InstalledPackage | undefined,
  ): Component {
    const key = this.key(kind, config.tenant, config.namespace, config.name);
    const component: Component = {
      kind,
      config,
      slots: [],
      desired,
      lock: Promise.resolve(),
      deleted: false,
      package: installed,
    };
    this.components.set(key, component);
    this.scrubber.set(key, secretValues(config, this.schemaOf(kind, config, installed)));
    this.resizeSlots(component);
    return component;
  }

  private resizeSlots(component: Component): void {
    // A config stored before the cap existed (or under a higher one) must not take the worker down on restore.
    const limit = this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    const wanted = Math.min(component.config.parallelism, limit);
    if (component.config.parallelism > limit) {
      this.logger.error(
        { fqfn: `${component.config.tenant}/${component.config.namespace}/${component.config.name}`, limit },
        `parallelism ${component.config.parallelism} is above maxParallelism: running ${limit} instances; update the connector`,
      );
    }
    while (component.slots.length > wanted) component.slots.pop();
    const { tenant, namespace, name } = component.config;
    const logger = this.logger.child({ kind: component.kind, fqfn: `${tenant}/${namespace}/${name}` });
    while (component.slots.length < wanted) {
      component.slots.push(
        new InstanceSlot({
          kind: component.kind,
          instanceId: component.slots.length,
          factory: (instanceId) => this.newInstance(component, instanceId),
          logger,
          scrub: (text) => this.scrubber.scrub(text),
          backoff: { ...DEFAULT_BACKOFF, ...this.options.backoff },
          workerId: this.workerId,
          stopTimeoutMs: this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
        }),
      );
    }
  }

  private async newInstance(component: Component, instanceId: number): Promise<ConnectorInstance> {
    const config = component.config;
    const connectorName = builtinName(config.archive);
    const connector = this.connectorOf(component.kind, config, component.package);
    if (!connector) {
      throw new WorkerError(
        "NOT_FOUND",
        connectorName === undefined
          ? `${KIND_TITLE[component.kind]} package ${config.archive} cannot run: ${component.packageProblem ?? "it is not installed"}`
          : `${KIND_TITLE[component.kind]} connector '${connectorName}' is not installed on this worker; install its package and reload`,
      );
    }
    const secrets = this.resolveSecrets(config.secrets);
    if (secrets.issues.length > 0) {
      throw new WorkerError("INVALID_CONFIG", formatIssues(`Invalid ${component.kind} secrets`, secrets.issues));
    }
    const key = this.key(component.kind, config.tenant, config.namespace, config.name);
    this.scrubber.set(key, [
      ...secretValues(config, this.schemaOf(component.kind, config, component.package)),
      ...Object.values(secrets.values).filter((value) => value.length >= 4),
    ]);
    // Checked again at each start: a stored config may predate a change of the worker's runtime.
    this.checkRuntime(component.kind, config, connector.entryModule !== undefined);
    const instanceConfig = { ...config, secrets: secrets.values };
    const adminUrl = this.options.pulsarAdminUrl ?? "http://127.0.0.1:8080";
    const entryModule = connector.entryModule;
    if (this.runtimeOf(config) === "process" && entryModule !== undefined) {
      return createProcessInstance({
        kind: component.kind,
        instanceId,
        connector: { ...connector, entryModule },
        transformModule: component.kind === "sink" ? this.transformEntryOf(config as ResolvedSinkConfig) : undefined,
        config: instanceConfig,
        client: this.clientOptions(),
        adminUrl,
        auth: this.authSettings(),
        workerId: this.workerId,
        heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
        logger: this.logger,
      });
    }
    const pulsar: InstancePulsar = {
      client: await this.pulsarClient(),
      adminUrl,
      authToken: this.pulsarAuthentication?.bearerToken,
    };
    const create = this.options.createInstance ?? createRuntimeInstance;
    // The runtime binds fqfn, instanceId and kind to the lines of the instance.
    const common = { instanceId, pulsar, logger: this.logger, workerId: this.workerId };
    return component.kind === "sink"
      ? create({
          ...common,
          kind: "sink",
          config: instanceConfig as ResolvedSinkConfig,
          definition: connector.definition as SinkDefinition,
          transformFunction: this.transformFunctionOf(config as ResolvedSinkConfig),
        })
      : create({
          ...common,
          kind: "source",
          config: instanceConfig as ResolvedSourceConfig,
          definition: connector.definition as SourceDefinition,
        });
  }

  /** The installed function a sink's `transformFunction` names; the runtime refuses to start when it is missing. */
  /** The module of the function `config.transformFunction` names, for an instance process to import. */
  private transformEntryOf(config: ResolvedSinkConfig): string | undefined {
    const name = transformFunctionName(config.transformFunction);
    return name === undefined ? undefined : this.catalog.getFunction(name)?.entryModule;
  }

  private transformFunctionOf(config: ResolvedSinkConfig): FunctionDefinition | undefined {
    const name = transformFunctionName(config.transformFunction);
    return name === undefined ? undefined : this.catalog.getFunction(name)?.definition;
  }

  /** Stores `config` and `desired` (what the user asked for) before anything acts on them. */
  private async persist(
    component: Component,
    config: ResolvedConfig,
    desired: Desired[],
    installed: InstalledPackage | undefined = component.package,
  ): Promise<void> {
    const stoppedInstances = desired.flatMap((state, id) => (state === "stopped" ? [id] : []));
    const entry = { kind: component.kind, config, stoppedInstances } as StoredConnector;
    if (installed) entry.package = { integrity: installed.integrity };
    await this.store.save(entry);
  }

  /** Removes an installed package's folder once no connector runs it. */
  private async releasePackage(installed: InstalledPackage | undefined): Promise<void> {
    if (!installed || this.pinnedPackages.has(installed.integrity)) return;
    const used = [...this.components.values()].some(
      (component) => !component.deleted && component.package?.integrity === installed.integrity,
    );
    if (used) return;
    try {
      await this.packages.remove(installed.integrity);
      this.logger.info({ package: installed.packageName, integrity: installed.integrity }, "connector package removed");
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, "cannot remove an unused connector package");
    }
  }

  /**
   * The package a submission brings: the uploaded `data` part, or the tarball an http(s):// or file:// archive names
   * (fetched again on every submission that gives it). Undefined for builtin:// and when an update keeps its archive.
   */
  private async packageOf(
    kind: Kind,
    submission: Submission,
    archive: string | undefined,
  ): Promise<InstalledPackage | undefined> {
    const maxBytes = this.options.maxPackageBytes ?? DEFAULT_MAX_PACKAGE_BYTES;
    let tarball = submission.packageData;
    if (!tarball) {
      if (archive === undefined || archiveKind(archive) !== "url") return undefined;
      tarball = await fetchArchive(archive, { fileDirs: this.options.fileDirs ?? [], maxBytes });
    }
    const installed = await this.packages.add(tarball, kind);
    this.pinnedPackages.set(installed.integrity, (this.pinnedPackages.get(installed.integrity) ?? 0) + 1);
    this.logger.info(
      { package: installed.packageName, version: installed.version, integrity: installed.integrity },
      "connector package installed",
    );
    return installed;
  }

  /** Ends the pin {@link packageOf} put on a package. */
  private unpin(installed: InstalledPackage | undefined): void {
    if (!installed) return;
    const count = (this.pinnedPackages.get(installed.integrity) ?? 1) - 1;
    if (count > 0) this.pinnedPackages.set(installed.integrity, count);
    else this.pinnedPackages.delete(installed.integrity);
  }

  /** Whether a principal may install connector packages here. */
  private mayInstallPackages(principal: Principal): boolean {
    const who = this.options.packageUploaders ?? "superusers";
    return who === "tenant-admins" || (who === "superusers" && principal.superUser);
  }

  private authorizePackage(principal: Principal): void {
    if (this.mayInstallPackages(principal)) return;
    if ((this.options.packageUploaders ?? "superusers") === "none") {
      throw new WorkerError(
        "FORBIDDEN",
        "This worker installs no connector packages (its packageUploaders is none); use builtin://<name> of an installed connector",
      );
    }
    throw new WorkerError(
      "FORBIDDEN",
      `Installing a connector package needs a superuser role (the worker's packageUploaders is superusers); role '${principal.role}' is not one`,
    );
  }

  /** Starts the instances the user wants running (stopping is done by the operations themselves). */
  private apply(component: Component): void {
    // An operation that finishes during shutdown is stored; the next start runs it.
    if (this.closing) return;
    for (const slot of component.slots) if (component.desired[slot.instanceId] === "running") slot.run();
  }

  /** Runs `task` after every earlier operation on the same component. */
  private async exclusive<T>(component: Component, task: () => Promise<T>): Promise<T> {
    const run = component.lock.then(() => {
      if (component.deleted) {
        throw new WorkerError("NOT_FOUND", `${KIND_TITLE[component.kind]} ${component.config.name} doesn't exist`);
      }
      return task();
    });
    component.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private find(kind: Kind, tenant: string, namespace: string, name: string): Component {
    const component = this.components.get(this.key(kind, tenant, namespace, name));
    if (!component) throw new WorkerError("NOT_FOUND", `${KIND_TITLE[kind]} ${name} doesn't exist`);
    return component;
  }

  /**
   * Checks a submitted config completely (defaults, connector, connector configs) and installs the package it
   * brings; throws with every issue. The caller releases the package when it does not keep the config.
   */
  private async checkSubmission(
    kind: Kind,
    path: { tenant: string; namespace: string; name: string },
    submission: Submission,
  ): Promise<{ config: ResolvedConfig; installed: InstalledPackage | undefined }> {
    const installed = await this.packageOf(
      kind,
      submission,
      submission.url ?? stringOrUndefined(submission.config.archive),
    );
    try {
      return { config: this.checkSubmissionWith(kind, path, submission, installed), installed };
    } catch (error) {
      this.unpin(installed);
      await this.releasePackage(installed);
      throw error;
    }
  }

  private checkSubmissionWith(
    kind: Kind,
    path: { tenant: string; namespace: string; name: string },
    submission: Submission,
    installed: InstalledPackage | undefined,
  ): ResolvedConfig {
    const raw = { ...submission.config };
    const issues: FieldIssue[] = [];
    for (const field of ["tenant", "namespace", "name"] as const) {
      const given = raw[field];
      if (given !== undefined && given !== null && given !== "" && given !== path[field]) {
        issues.push({ path: field, message: `'${String(given)}' differs from the request path ('${path[field]}')` });
      }
      raw[field] = path[field];
    }
    if (submission.url) raw.archive = submission.url;
    // An uploaded file replaces the archive field, which holds the path on the client (as pulsar-admin sends it).
    if (submission.packageData && installed) raw.archive = uploadArchive(installed.packageName, installed.version);
    const resolved = kind === "sink" ? resolveSinkConfig(raw as SinkConfig) : resolveSourceConfig(raw as SourceConfig);
    if (!resolved.ok) issues.push(...resolved.issues);
    if (issues.length > 0) this.invalid(kind, issues);
    if (!resolved.ok) throw new WorkerError("INTERNAL", "unreachable");
    this.checkConnector(kind, resolved.value, installed);
    return resolved.value;
  }

  private checkConnector(kind: Kind, config: ResolvedConfig, installed: InstalledPackage | undefined): void {
    const connectorName = builtinName(config.archive);
    if (connectorName === undefined && !installed) {
      const how =
        archiveKind(config.archive) === "upload"
          ? "names a package uploaded earlier; send the package file again (multipart data part)"
          : "is neither builtin://<name> nor an http(s):// or file:// URL; a local file must be uploaded (multipart data part, as pulsar-admin and pulsar-connect send it)";
      this.invalid(kind, [{ path: "archive", message: `'${config.archive}' ${how}` }]);
    }
    const connector = this.connectorOf(kind, config, installed);
    if (!connector) {
      const available = this.catalog.list(kind).map((entry) => entry.name);
      this.invalid(kind, [
        {
          path: "archive",
          message: `Built-in ${kind} '${connectorName}' is not available -- available ${kind}s are: [${available.join(", ")}]`,
        },
      ]);
    }
    const limit = this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    if (config.parallelism > limit) {
      this.invalid(kind, [{ path: "parallelism", message: `must be at most ${limit} (the worker's maxParallelism)` }]);
    }
    const secrets = this.resolveSecrets(config.secrets);
    if (secrets.issues.length > 0) this.invalid(kind, secrets.issues);
    const resolved = Object.values(secrets.values).filter((value) => value.length >= 4);
    const hide = (text: string) => resolved.reduce((out, secret) => out.split(secret).join(REDACTED), text);
    if (config.className && config.className !== connector.packageName) {
      this.invalid(kind, [
        {
          path: "className",
          message: `'${config.className}' is not the ${kind} of ${config.archive}: its class is ${connector.packageName} (leave className out)`,
        },
      ]);
    }
    this.checkRuntime(kind, config, connector.entryModule !== undefined);
    const issues = validateConnectorConfigs(connector.definition, config.configs, secrets.values);
    if (kind === "sink") {
      issues.push(
        ...checkTransformFunction(
          config as ResolvedSinkConfig,
          (name) => this.catalog.getFunction(name),
          this.catalog.functions().map((entry) => entry.name),
        ),
      );
    }
    if (issues.length > 0)
      this.invalid(
        kind,
        issues.map((issue) => ({ ...issue, message: hide(issue.message) })),
      );
  }

  /** Refuses runtime settings that the connector's runtime cannot honour, naming the field. */
  private checkRuntime(kind: Kind, config: ResolvedConfig, packaged: boolean): void {
    const issues = runtimeIssues(config, this.runtimeOf(config), packaged);
    if (issues.length > 0) this.invalid(kind, issues);
  }

  /**
   * Resolves a connector's `secrets`: a string (or `{value}`) as given, `{env}` only from variables the operator
   * allows (`secretsEnv`), `{file}` only from the operator's `secretsDir`. Never reads anything else.
   */
  private resolveSecrets(secrets: Record<string, unknown>): { values: Record<string, string>; issues: FieldIssue[] } {
    const values: Record<string, string> = {};
    const issues: FieldIssue[] = [];
    for (const [key, entry] of Object.entries(secrets ?? {})) {
      const path = `secrets.${key}`;
      if (typeof entry === "string") {
        values[key] = entry;
        continue;
      }
      const spec = isPlainObject(entry) ? entry : {};
      if (typeof spec.value === "string") values[key] = spec.value;
      else if (typeof spec.env === "string") {
        const name = spec.env;
        const allowed = (this.options.secretsEnv ?? []).some((rule) =>
          rule.endsWith("*") ? name.startsWith(rule.slice(0, -1)) : name === rule,
        );
        if (!allowed) {
          issues.push({
            path,
            message: `environment variable '${spec.env}' is not allowed by the worker's secretsEnv`,
          });
        } else if (process.env[spec.env] !== undefined) values[key] = process.env[spec.env] as string;
      } else if (typeof spec.file === "string") {
        const dir = this.options.secretsDir;
        if (!dir) issues.push({ path, message: "secrets from files need the worker's secretsDir" });
        else if (!/^[\w-][\w.-]*$/.test(spec.file)) {
          issues.push({ path, message: "file must be the name of a file in the worker's secretsDir" });
        } else {
          try {
            values[key] = readFileSync(join(resolve(dir), spec.file), "utf8").replace(/\r?\n$/, "");
          } catch {
            issues.push({ path, message: `no readable secret file '${spec.file}' in the worker's secretsDir` });
          }
        }
      } else issues.push({ path, message: 'must be a string, {"value"}, {"env"} or {"file"}' });
    }
    return { values, issues };
  }

  /** Fields of a valid config that are accepted without (full) effect: framework fields, then connector fields. */
  private warningsOf(kind: Kind, config: ResolvedConfig, installed: InstalledPackage | undefined): ConfigWarning[] {
    const connector = this.connectorOf(kind, config, installed);
    return [
      ...configWarnings(config as unknown as Record<string, unknown>, this.runtimeOf(config) === "process"),
      ...(connector ? compatWarnings(connector.definition.config, config.configs) : []),
    ];
  }

  /** Logs each warning of a create or update once, and returns them for the answer. */
  private announceWarnings(
    kind: Kind,
    config: ResolvedConfig,
    installed: InstalledPackage | undefined,
  ): ConfigWarning[] {
    const warnings = this.warningsOf(kind, config, installed);
    const fqfn = `${config.tenant}/${config.namespace}/${config.name}`;
    for (const warning of warnings) this.logger.warn({ kind, fqfn, field: warning.field }, warning.message);
    return warnings;
  }

  private invalid(kind: Kind, issues: FieldIssue[]): never {
    throw new WorkerError("INVALID_CONFIG", formatIssues(`Invalid ${kind} config`, issues), { issues });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Operations

  private async create(kind: Kind, path: Path, submission: Submission): Promise<ConfigWarning[]> {
    const { config, installed } = await this.checkSubmission(kind, path, submission);
    const key = this.key(kind, path.tenant, path.namespace, path.name);
    if (this.components.has(key)) {
      this.unpin(installed);
      await this.releasePackage(installed);
      throw new WorkerError("ALREADY_EXISTS", `${KIND_TITLE[kind]} ${path.name} already exists`);
    }
    // Registered (and locked) before the next await: a delete or update arriving meanwhile waits for the create.
    const component = this.addComponent(
      kind,
      config,
      Array.from({ length: config.parallelism }, (): Desired => "running"),
      installed,
    );
    this.unpin(installed);
    return await this.exclusive(component, async () => {
      try {
        await this.persist(component, config, component.desired);
      } catch (error) {
        component.deleted = true;
        this.components.delete(key);
        this.scrubber.delete(key);
        await this.releasePackage(installed);
        throw error;
      }
      this.logger.info(
        {
          kind,
          fqfn: `${path.tenant}/${path.namespace}/${path.name}`,
          parallelism: config.parallelism,
          guarantee: config.processingGuarantees,
        },
        "connector created",
      );
      const warnings = this.announceWarnings(kind, config, installed);
      this.apply(component);
      return warnings;
    });
  }

  private async update(kind: Kind, path: Path, submission: Submission): Promise<ConfigWarning[]> {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    if (submission.updateOptions?.updateAuthData === true) {
      this.invalid(kind, [
        {
          path: "updateOptions.updateAuthData",
          message:
            "is not supported: instances connect to Pulsar with the worker's own credentials, so a connector has no auth data of its own to refresh",
        },
      ]);
    }
    return await this.exclusive(component, async () => {
      const update = { ...submission.config };
      if (submission.url) update.archive = submission.url;
      const archive = stringOrUndefined(update.archive);
      const bringsPackage =
        submission.packageData !== undefined || (archive !== undefined && archiveKind(archive) === "url");
      const installed = bringsPackage ? await this.packageOf(kind, submission, archive) : undefined;
      try {
        if (submission.packageData && installed)
          update.archive = uploadArchive(installed.packageName, installed.version);
        return await this.applyUpdate(kind, path, component, update, bringsPackage ? installed : undefined);
      } finally {
        this.unpin(installed);
        await this.releasePackage(installed);
      }
    });
  }

  /** Merges and applies an update; `brought` is the package the update installed, if it brought one. */
  private async applyUpdate(
    kind: Kind,
    path: Path,
    component: Component,
    update: Record<string, unknown>,
    brought: InstalledPackage | undefined,
  ): Promise<ConfigWarning[]> {
    {
      restoreRedacted(update, component.config);
      const merged =
        kind === "sink"
          ? mergeSinkUpdate(component.config as ResolvedSinkConfig, update as SinkConfig)
          : mergeSourceUpdate(component.config as ResolvedSourceConfig, update as SourceConfig);
      if (!merged.ok) {
        throw new WorkerError("INVALID_CONFIG", formatIssues(`Invalid ${kind} update`, merged.issues), {
          issues: merged.issues,
        });
      }
      // Without a new package the archive stays what it was (or becomes a builtin://, which needs none).
      const installed =
        brought ??
        (builtinName(merged.value.archive) === undefined && merged.value.archive === component.config.archive
          ? component.package
          : undefined);
      this.checkConnector(kind, merged.value, installed);
      if (
        stableJson(merged.value) === stableJson(component.config) &&
        installed?.integrity === component.package?.integrity
      ) {
        throw new WorkerError("BAD_REQUEST", "Update contains no change");
      }
      const previous = component.config;
      const desired = Array.from(
        { length: merged.value.parallelism },
        (_, id): Desired => component.desired[id] ?? "running",
      );
      // Stored first: a failed write leaves the old config running untouched, and a retry is a real change.
      await this.persist(component, merged.value, desired, installed);
      this.scrubber.set(this.key(kind, path.tenant, path.namespace, path.name), [
        ...secretValues(previous, this.schemaOf(kind, previous, component.package)),
        ...secretValues(merged.value, this.schemaOf(kind, merged.value, installed)),
      ]);
      // Drain every instance under the old config before any instance starts under the new one.
      await Promise.all(component.slots.map((slot) => slot.stop()));
      const previousPackage = component.package;
      component.config = merged.value;
      component.desired = desired;
      component.package = installed;
      delete component.packageProblem;
      if (previousPackage?.integrity !== installed?.integrity) await this.releasePackage(previousPackage);
      this.resizeSlots(component);
      this.logger.info(
        {
          kind,
          fqfn: `${path.tenant}/${path.namespace}/${path.name}`,
          parallelism: merged.value.parallelism,
          guarantee: merged.value.processingGuarantees,
        },
        "connector updated",
      );
      const warnings = this.announceWarnings(kind, merged.value, installed);
      this.apply(component);
      return warnings;
    }
  }

  private async remove(kind: Kind, path: Path): Promise<void> {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    await this.exclusive(component, async () => {
      await Promise.all(component.slots.map((slot) => slot.stop()));
      const config = component.config;
      if (kind === "sink" && (config as ResolvedSinkConfig).cleanupSubscription !== false) {
        try {
          await deleteSinkSubscription(config as ResolvedSinkConfig, {
            adminUrl: this.options.pulsarAdminUrl ?? "http://127.0.0.1:8080",
            authToken: this.pulsarAuthentication?.bearerToken,
          });
        } catch (error) {
          this.logger.warn(
            { err: this.scrubber.scrub((error as Error).message) },
            "could not delete the sink's subscription",
          );
        }
      }
      try {
        await this.store.remove(kind, config.tenant, config.namespace, config.name);
      } catch (error) {
        // Still stored, so still there: run what ran before instead of leaving it stopped.
        this.apply(component);
        throw new WorkerError("STORE_FAILED", `Cannot delete ${kind} ${config.name}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const key = this.key(kind, path.tenant, path.namespace, path.name);
      component.deleted = true;
      this.components.delete(key);
      this.scrubber.delete(key);
      await this.releasePackage(component.package);
      this.logger.info({ kind, fqfn: `${path.tenant}/${path.namespace}/${path.name}` }, "connector deleted");
    });
  }

  private slotsOf(component: Component, kind: Kind, name: string, instance: string | undefined): InstanceSlot[] {
    if (instance === undefined) return component.slots;
    const id = /^\d+$/.test(instance) ? Number(instance) : Number.NaN;
    const slot = Number.isInteger(id) ? component.slots[id] : undefined;
    if (!slot) {
      throw new WorkerError(
        "BAD_REQUEST",
        `Invalid instance id '${instance}': ${KIND_TITLE[kind]} ${name} has instances 0..${component.slots.length - 1}`,
      );
    }
    return [slot];
  }

  private async control(
    kind: Kind,
    path: Path,
    action: "start" | "stop" | "restart",
    instance: string | undefined,
  ): Promise<void> {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    this.slotsOf(component, kind, path.name, instance);
    await this.exclusive(component, async () => {
      // Chosen again under the lock: an update before this operation may have changed the instances.
      const slots = this.slotsOf(component, kind, path.name, instance);
      const desired = [...component.desired];
      for (const slot of slots) desired[slot.instanceId] = action === "stop" ? "stopped" : "running";
      // Stored before acting: a failed write changes nothing, and a crash right after restores the new wish.
      await this.persist(component, component.config, desired);
      component.desired = desired;
      if (action === "stop") {
        await Promise.all(slots.map((slot) => slot.stop()));
      } else if (action === "start") {
        for (const slot of slots) slot.run();
      } else {
        await Promise.all(slots.map((slot) => slot.restart()));
      }
      this.logger.info(
        { kind, fqfn: `${path.tenant}/${path.namespace}/${path.name}`, instanceId: instance ?? "all", action },
        `connector ${action}`,
      );
    });
  }

  private status(kind: Kind, path: Path, instance: string | undefined): unknown {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    const slots = this.slotsOf(component, kind, path.name, instance);
    if (instance !== undefined) return slots[0]?.status();
    const instances = component.slots.map((slot) => ({ instanceId: slot.instanceId, status: slot.status() }));
    return {
      numInstances: component.slots.length,
      numRunning: instances.filter((entry) => entry.status.running).length,
      instances,
    };
  }

  private async reload(): Promise<unknown> {
    const result = await this.catalog.reload();
    for (const problem of this.catalog.problems) {
      this.logger.warn({ packageName: problem.packageName }, `connector package refused: ${problem.message}`);
    }
    const changed = new Set(result.changed);
    for (const component of this.components.values()) {
      const name = builtinName(component.config.archive);
      const transform = transformFunctionName((component.config as ResolvedSinkConfig).transformFunction);
      const transformChanged =
        component.kind === "sink" && transform !== undefined && changed.has(`function:${transform}`);
      if ((name === undefined || !changed.has(`${component.kind}:${name}`)) && !transformChanged) continue;
      await this.exclusive(component, async () => {
        await Promise.all(
          component.slots
            .filter((slot) => component.desired[slot.instanceId] === "running")
            .map((slot) => slot.restart()),
        );
      });
    }
    this.logger.info({ ...result }, "connectors reloaded");
    return { ...result, problems: this.catalog.problems };
  }

  private builtins(kind: Kind): unknown[] {
    return this.catalog.list(kind).map((connector) => ({
      name: connector.name,
      description: connector.description,
      ...(kind === "sink" ? { sinkClass: connector.packageName } : { sourceClass: connector.packageName }),
      version: connector.packageVersion,
    }));
  }

  private metrics(withExceptions: boolean): string {
    const instances = [...this.components.values()].flatMap((component) =>
      component.slots.map((slot) => ({
        kind: component.kind,
        tenant: component.config.tenant,
        namespace: component.config.namespace,
        name: component.config.name,
        instanceId: slot.instanceId,
        counters: slot.counters(),
        recentExceptions: withExceptions ? slot.recentExceptions() : { connector: [], system: [] },
      })),
    );
    return renderMetrics(instances, this.options.cluster ?? "standalone", this.minuteWindows);
  }

  // ---------------------------------------------------------------------------------------------------------
  // HTTP

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = Date.now();
    try {
      await this.route(request, response);
    } catch (error) {
      const known = error instanceof WorkerError ? error : undefined;
      if (!known) {
        this.logger.error(
          { err: this.scrubber.scrub(error instanceof Error ? (error.stack ?? error.message) : String(error)) },
          "request failed",
        );
      }
      if (!response.headersSent) {
        const status = known?.status ?? 500;
        const secrets = this.submittedSecrets.get(request) ?? [];
        const scrub = (text: string) => {
          let out = this.scrubber.scrub(text);
          for (const secret of secrets) out = out.split(secret).join(REDACTED);
          return out;
        };
        const reason = scrub(known?.message ?? `Internal error: ${(error as Error)?.message ?? error}`);
        const body: Record<string, unknown> = { reason };
        if (known && known.issues.length > 0) {
          body.issues = known.issues.map((issue) => ({ path: issue.path, message: scrub(issue.message) }));
        }
        if (status === 413) response.setHeader("connection", "close");
        sendJson(response, status, body);
      } else {
        response.destroy();
      }
    } finally {
      this.logger.debug(
        { method: request.method, path: request.url, status: response.statusCode, ms: Date.now() - started },
        "request",
      );
    }
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? "GET";
    const url = new URL(request.url ?? "/", "http://worker.local");
    if (method === "GET" && url.pathname === "/health") return sendText(response, 200, "ok");
    if (method === "GET" && url.pathname === "/metrics") {
      const open = !this.auth.metricsProtected;
      if (!open) this.auth.requireSuperUser(this.auth.authenticate(request.headers.authorization), "reading /metrics");
      // An open endpoint shows counters only: exception text can hold record values of any tenant.
      return sendText(response, 200, this.metrics(!open || !this.auth.enabled), "text/plain; version=0.0.4");
    }
    if (!url.pathname.startsWith("/admin/")) return this.webConsole().handle(request, response, url);
    const match = /^\/admin\/v3\/(sinks|sink|sources|source)(?:\/(.*))?$/.exec(url.pathname);
    if (!match) throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
    const kind: Kind = match[1]?.startsWith("sink") ? "sink" : "source";
    const principal = this.auth.authenticate(request.headers.authorization);
    const segments = (match[2] ?? "")
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => {
        try {
          return decodeURIComponent(segment);
        } catch {
          throw new WorkerError("BAD_REQUEST", "Malformed percent-encoding in the request path");
        }
      });
    if (!this.ready)
      throw new WorkerError("NOT_READY", "Worker is initializing: restoring stored connectors; retry shortly");
    const builtinsName = kind === "sink" ? "builtinsinks" : "builtinsources";
    const reloadName = kind === "sink" ? "reloadBuiltInSinks" : "reloadBuiltInSources";

    if (segments[0] === builtinsName && method === "GET") {
      if (segments.length === 1) return sendJson(response, 200, this.builtins(kind));
      if (segments.length === 3 && segments[2] === "configdefinition") {
        const connector = this.catalog.get(kind, segments[1] as string);
        if (!connector) {
          throw new WorkerError(
            "NOT_FOUND",
            `Built-in ${kind} '${segments[1]}' is not available -- available ${kind}s are: [${this.catalog
              .list(kind)
              .map((entry) => entry.name)
              .join(", ")}]`,
          );
        }
        return sendJson(response, 200, configFieldDefinitions(connector.definition.config));
      }
    }
    if (segments.length === 1 && segments[0] === reloadName && method === "POST") {
      this.auth.requireSuperUser(principal, "reloading connectors");
      return sendJson(response, 200, await this.reload());
    }
    if (segments.length < 2) throw new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${url.pathname}`);
    const [tenant, namespace, name, fourth, fifth] = segments as [string, string, string?, string?, string?];
    this.auth.authorizeTenant(principal, tenant);
    if (segments.length === 2) {
      if (method !== "GET") throw this.noRoute(method, url.pathname);
      const names = [...this.components.values()]
        .filter((c) => c.kind === kind && c.config.tenant === tenant && c.config.namespace === namespace)
        .map((c) => c.config.name)
        .sort();
      return sendJson(response, 200, names);
    }
    const path: Path = { tenant, namespace, name: name as string };
    if (segments.length === 3) {
      switch (method) {
        case "GET": {
          const component = this.find(kind, tenant, namespace, path.name);
          return sendJson(
            response,
            200,
            publicConfig(component.config, this.schemaOf(kind, component.config, component.package)),
          );
        }
        case "POST":
          return answerWarnings(
            response,
            await this.create(kind, path, await this.submission(request, kind, principal, path)),
          );
        case "PUT":
          return answerWarnings(
            response,
            await this.update(kind, path, await this.submission(request, kind, principal, path)),
          );
        case "DELETE":
          await this.remove(kind, path);
          return sendNoContent(response);
        default:
          throw this.noRoute(method, url.pathname);
      }
    }
    if (segments.length === 4) {
      if (fourth === "status" && method === "GET") return sendJson(response, 200, this.status(kind, path, undefined));
      if (method === "POST" && (fourth === "start" || fourth === "stop" || fourth === "restart")) {
        await this.control(kind, path, fourth, undefined);
        return sendNoContent(response);
      }
      if (method === "POST" && fourth === "validate") {
        const { config, installed } = await this.checkSubmission(
          kind,
          path,
          await this.submission(request, kind, principal, path),
        );
        this.unpin(installed);
        await this.releasePackage(installed);
        return sendJson(response, 200, {
          valid: true,
          config: publicConfig(config, this.schemaOf(kind, config, installed)),
          warnings: this.warningsOf(kind, config, installed),
        });
      }
    }
    if (segments.length === 5) {
      if (fifth === "status" && method === "GET") return sendJson(response, 200, this.status(kind, path, fourth));
      if (method === "POST" && (fifth === "start" || fifth === "stop" || fifth === "restart")) {
        await this.control(kind, path, fifth, fourth);
        return sendNoContent(response);
      }
    }
    throw this.noRoute(method, url.pathname);
  }

  private async submission(
    request: IncomingMessage,
    kind: Kind,
    principal: Principal,
    path: Path,
  ): Promise<Submission> {
    const maxBody = this.options.maxBodyBytes ?? 5 * 1024 * 1024;
    const multipart = String(request.headers["content-type"] ?? "")
      .toLowerCase()
      .startsWith("multipart/form-data");
    // A package upload may be larger than a config; only those who may install packages get the larger limit.
    const extra =
      multipart && this.mayInstallPackages(principal) ? (this.options.maxPackageBytes ?? DEFAULT_MAX_PACKAGE_BYTES) : 0;
    if (multipart && extra === 0 && Number(request.headers["content-length"] ?? "0") > maxBody) {
      this.authorizePackage(principal);
    }
    const body = await readBody(request, maxBody + extra);
    const submission = await readSubmission(request, body, kind);
    const given = submission.url ?? stringOrUndefined(submission.config.archive);
    if (submission.packageData !== undefined || (given !== undefined && archiveKind(given) === "url")) {
      this.authorizePackage(principal);
    }
    const config = submission.config as { archive?: unknown; sinkType?: unknown; sourceType?: unknown };
    const type = kind === "sink" ? config.sinkType : config.sourceType;
    const archive =
      submission.url ?? (typeof config.archive === "string" ? config.archive : `builtin://${String(type)}`);
    const connectorName = builtinName(archive);
    const schema = connectorName === undefined ? undefined : this.catalog.get(kind, connectorName)?.definition.config;
    const values = secretValues(submission.config as { configs?: Record<string, unknown> }, schema).filter(
      (value) => value.length >= 4,
    );
    this.submittedSecrets.set(
      request,
      values.sort((a, b) => b.length - a.length),
    );
    this.authorizeReferences(principal, path, submission.config);
    return submission;
  }

  /**
   * Refuses topics, patterns and dead-letter or log topics of tenants the principal does not manage: the worker's
   * own Pulsar credentials would otherwise read, ack, write or delete there on the caller's behalf.
   */
  private authorizeReferences(principal: Principal, path: Path, config: Record<string, unknown>): void {
    if (principal.superUser) return;
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const inputs = [
      ...(Array.isArray(config.inputs) ? config.inputs : []),
      ...(isPlainObject(config.inputSpecs) ? Object.keys(config.inputSpecs) : []),
    ].filter((topic): topic is string => typeof topic === "string");
    const references = referencedTenants({
      tenant: path.tenant,
      namespace: path.namespace,
      inputs,
      topicsPattern: text(config.topicsPattern),
      deadLetterTopic: text(config.deadLetterTopic),
      logTopic: text(config.logTopic),
      ...(text(config.topicName) !== undefined ? { topicName: text(config.topicName) } : {}),
    } as unknown as ResolvedSinkConfig);
    for (const { field, tenant } of references) {
      if (tenant === path.tenant) continue;
      const value = field.startsWith("inputs.") ? (inputs[Number(field.slice(7))] as string) : String(config[field]);
      this.auth.authorizeReference(principal, tenant, field, value);
    }
  }

  /** The web console; it sees the connectors through this view only. */
  private webConsole(): WorkerConsole {
    this.console ??= new WorkerConsole({
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
      connectors: () =>
        [...this.components.values()].map((component) => ({
          kind: component.kind,
          config: component.config,
          desired: [...component.desired],
          instances: component.slots.map((slot) => ({
            instanceId: slot.instanceId,
            status: slot.status(),
            counters: slot.counters(),
          })),
        })),
      logs: () => this.connectorLogs,
      pulsar: async () => (await this.pulsarClient()) as unknown as PulsarClient,
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
    });
    return this.console;
  }

  private noRoute(method: string, pathname: string): WorkerError {
    return new WorkerError("NOT_FOUND", `No such endpoint: ${method} ${pathname}`);
  }
}

interface Path {
  tenant: string;
  namespace: string;
  name: string;
}

/** A create/update answer: 204 as upstream when all is well, else 200 with the warnings the user must see. */
function answerWarnings(response: ServerResponse, warnings: ConfigWarning[]): void {
  if (warnings.length === 0) sendNoContent(response);
  else sendJson(response, 200, { warnings });
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
