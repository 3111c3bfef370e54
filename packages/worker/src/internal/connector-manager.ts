import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type ConfigSchema,
  type ConfigWarning,
  compatWarnings,
  configFieldDefinitions,
  type FieldIssue,
  type FunctionDefinition,
  formatIssues,
  type Logger,
  REDACTED,
  type SinkDefinition,
  type SourceDefinition,
} from "@pulsar-connect/core/host";
import { type Authentication, PulsarClient, type PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import {
  builtinName,
  type ConnectorCatalog,
  type ConnectorInstance,
  checkTransformFunction,
  configWarnings,
  createInstance as createRuntimeInstance,
  type DiscoveredConnector,
  deleteSinkSubscription,
  type InstancePulsar,
  type InstanceRuntime,
  mergeSinkUpdate,
  mergeSourceUpdate,
  type ResolvedSinkConfig,
  type ResolvedSourceConfig,
  resolveSinkConfig,
  resolveSourceConfig,
  type SinkConfig,
  type SourceConfig,
  transformFunctionName,
  validateConnectorConfigs,
} from "@pulsar-connect/runtime";
import { WorkerError } from "../errors.ts";
import type { PulsarClientHandle, WorkerOptions } from "../worker.ts";
import { archiveKind, fetchArchive, uploadArchive } from "./archive-fetch.ts";
import { type Demand, ramBytes } from "./cluster/assignment.ts";
import { instanceKey } from "./cluster/cluster-scheduler.ts";
import type { StoreChange } from "./cluster/cluster-store.ts";
import type { PackageTopic } from "./cluster/package-topic.ts";
import { SHARED_PACKAGE_HEADER } from "./cluster/package-topic.ts";
import type { ConnectorStore, StoredConnector } from "./connector-store.ts";
import type { ConsoleConnector } from "./console/index.ts";
import type { Submission } from "./http.ts";
import { type MinuteTotals, MinuteWindows, renderMetrics } from "./metrics.ts";
import { type ConnectorPackages, type InstalledPackage, integrityOf } from "./packages.ts";
import type { PulsarAuthSettings } from "./process-runtime/protocol.ts";
import { createProcessInstance, runtimeIssues, runtimeOf } from "./process-runtime/runtime-choice.ts";
import { publicConfig, redactText, type SecretScrubber, secretValues } from "./redact.ts";
import type { InstanceRef, Scheduler } from "./scheduler.ts";
import { type ConnectorStatus, type InstanceStatus, upstreamConnectorStatus } from "./status.ts";
import { DEFAULT_BACKOFF, DEFAULT_STOP_TIMEOUT_MS, InstanceSlot, type SlotCounters } from "./supervisor.ts";

export type Kind = "sink" | "source";
export type ResolvedConfig = ResolvedSinkConfig | ResolvedSourceConfig;
type Desired = "running" | "stopped";

/** A connector's place in the admin API: `/admin/v3/<kind>s/<tenant>/<namespace>/<name>`. */
export interface Path {
  tenant: string;
  namespace: string;
  name: string;
}

export const DEFAULT_MAX_PACKAGE_BYTES: number = 50 * 1024 * 1024;
const DEFAULT_MAX_PARALLELISM = 32;
const KIND_TITLE: Record<Kind, string> = { sink: "Sink", source: "Source" };

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
  /** The integrity of the package its stored entry names, loaded or not: what keeps that package from removal. */
  storedPackage: string | undefined;
}

/** What the manager needs from the worker that owns it. */
export interface ConnectorManagerSettings {
  options: WorkerOptions;
  logger: Logger;
  scrubber: SecretScrubber;
  store: ConnectorStore;
  packages: ConnectorPackages;
  scheduler: Scheduler;
  catalog: ConnectorCatalog;
  /** From `pulsarAuthPlugin`/`pulsarAuthParams`, or the fixed `pulsarAuthToken`. */
  pulsarAuthentication: Authentication | undefined;
  /** Runs before each start of an instance (cluster mode: fences a previous owner that may be frozen). */
  beforeStart?: (instance: InstanceRef, config: ResolvedConfig) => Promise<void>;
  /** Cluster mode: resolves once no worker holds any of the instances any more (they were stored as stopped). */
  stoppedEverywhere?: (instances: InstanceRef[]) => Promise<void>;
  /** Cluster mode: where the packages of stored connectors are kept for every worker to install them. */
  sharedPackages?: PackageTopic;
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

/** Options of a Pulsar client of the worker's own (the cluster's, or the one its instances share). */
export function workerClientOptions(
  options: WorkerOptions,
  authentication: Authentication | undefined,
): PulsarClientOptions {
  const clientOptions: PulsarClientOptions = { serviceUrl: options.pulsarServiceUrl ?? "pulsar://127.0.0.1:6650" };
  const tls = pulsarTlsOf(options);
  if (tls) clientOptions.tls = tls;
  if (authentication) clientOptions.authentication = authentication;
  return clientOptions;
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
 * Owns the connectors of a worker: checks submissions, stores configs and desired state before acting on them,
 * serialises the operations on each connector, and runs the instances the scheduler places here.
 */
export class ConnectorManager {
  /** Identifier shown in instance status (`host:port`); set once the worker listens. */
  workerId = "";
  private readonly options: WorkerOptions;
  private readonly logger: Logger;
  private readonly scrubber: SecretScrubber;
  private readonly store: ConnectorStore;
  private readonly packages: ConnectorPackages;
  private readonly scheduler: Scheduler;
  private readonly pulsarAuthentication: Authentication | undefined;
  private readonly catalog: ConnectorCatalog;
  private readonly beforeStart: ConnectorManagerSettings["beforeStart"];
  private readonly stoppedEverywhere: ConnectorManagerSettings["stoppedEverywhere"];
  private readonly sharedPackages: PackageTopic | undefined;
  /** Packages installed by a submission still being checked, by integrity: not removed meanwhile. */
  private readonly pinnedPackages: Map<string, number> = new Map();
  private readonly components: Map<string, Component> = new Map();
  private readonly minuteWindows: MinuteWindows = new MinuteWindows();
  private client: Promise<PulsarClientHandle> | undefined;
  private closing = false;
  private unsubscribe: () => void = () => undefined;

  constructor(settings: ConnectorManagerSettings) {
    this.options = settings.options;
    this.logger = settings.logger;
    this.scrubber = settings.scrubber;
    this.store = settings.store;
    this.packages = settings.packages;
    this.scheduler = settings.scheduler;
    this.catalog = settings.catalog;
    this.pulsarAuthentication = settings.pulsarAuthentication;
    this.beforeStart = settings.beforeStart;
    this.stoppedEverywhere = settings.stoppedEverywhere;
    this.sharedPackages = settings.sharedPackages;
  }

  /** Restores every stored connector in its last desired state; returns how many. */
  async restore(): Promise<{ restored: number; running: number; stopped: number }> {
    const { entries, problems } = await this.store.loadAll();
    for (const problem of problems) this.logger.error(`unreadable connector in the store: ${problem}`);
    for (const entry of entries) {
      const desired = Array.from(
        { length: entry.config.parallelism },
        (_, id): Desired => (entry.stoppedInstances.includes(id) ? "stopped" : "running"),
      );
      const { installed, problem } = await this.restorePackage(entry);
      await this.loadStoredModules(entry.kind, entry.config);
      const component = this.addComponent(entry.kind, entry.config, desired, installed, entry.package?.integrity);
      if (problem !== undefined) component.packageProblem = problem;
      this.apply(component);
    }
    await this.packages
      .prune(entries.flatMap((entry) => (entry.package ? [entry.package.integrity] : [])))
      .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, "cannot prune unused packages"));
    // Placement changes (cluster mode) start what now runs here; instances that moved away are stopped.
    this.unsubscribe = this.scheduler.onChange(() => {
      for (const component of this.components.values())
        void this.exclusive(component, async () => this.place(component)).catch(() => undefined);
    });
    const desired = [...this.components.values()].flatMap((component) => component.desired);
    return {
      restored: entries.length,
      running: desired.filter((state) => state === "running").length,
      stopped: desired.filter((state) => state === "stopped").length,
    };
  }

  /** Stops every instance gracefully (the worker is closing): operations finishing later start nothing. */
  async stopInstances(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    await Promise.all([...this.components.values()].flatMap((component) => component.slots.map((slot) => slot.stop())));
  }

  /** Closes the Pulsar client the in-process instances share; after {@link stopInstances}. */
  async closePulsarClient(): Promise<void> {
    if (this.client) {
      const client = await this.client.catch(() => undefined);
      await client?.close?.().catch(() => undefined);
    }
  }

  /** Integrities stored connectors name or a write holds: what the cluster's package topic must keep. */
  packagesInUse(): Set<string> {
    const inUse = new Set(this.pinnedPackages.keys());
    for (const component of this.components.values()) {
      if (!component.deleted && component.storedPackage !== undefined) inUse.add(component.storedPackage);
    }
    return inUse;
  }

  private async restorePackage(entry: StoredConnector): Promise<{ installed?: InstalledPackage; problem?: string }> {
    if (!entry.package) return {};
    // Held while it installs: the connector that names it is not among the components yet.
    this.pin(entry.package.integrity);
    try {
      const { integrity } = entry.package;
      // In a cluster the worker that stored the connector kept the package in the cluster's package topic.
      if (this.sharedPackages && !this.packages.has(integrity)) {
        const installed = await this.packages.add(await this.sharedPackages.get(integrity), entry.kind);
        this.logger.info(
          { package: installed.packageName, version: installed.version, integrity },
          "connector package installed from the cluster's package topic",
        );
        return { installed };
      }
      return { installed: await this.packages.restore(integrity, entry.kind) };
    } catch (error) {
      const problem = (error as Error).message;
      this.logger.error(
        { kind: entry.kind, fqfn: `${entry.config.tenant}/${entry.config.namespace}/${entry.config.name}` },
        `cannot restore the connector package: ${problem}`,
      );
      return { problem };
    } finally {
      this.unpin(entry.package.integrity);
    }
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
    if (name !== undefined) return this.catalog.isLoaded(kind, name) ? this.catalog.get(kind, name) : undefined;
    return installed?.connector;
  }

  /**
   * Imports the modules of the builtin connector and the transform function a config names (the catalog reads only
   * manifests at start). A module that cannot be imported makes the config invalid, naming the field.
   */
  private async loadModulesOf(kind: Kind, config: { archive?: unknown; transformFunction?: unknown }): Promise<void> {
    const issues: FieldIssue[] = [];
    const name = typeof config.archive === "string" ? builtinName(config.archive) : undefined;
    const transform = kind === "sink" ? transformFunctionName(config.transformFunction) : undefined;
    const wanted: Array<[Kind | "function", string | undefined, string]> = [
      [kind, name, "archive"],
      ["function", transform, "transformFunction"],
    ];
    for (const [what, named, path] of wanted) {
      if (named === undefined) continue;
      try {
        await this.catalog.load(what, named);
      } catch (error) {
        issues.push({ path, message: (error as Error).message });
      }
    }
    if (issues.length > 0) this.invalid(kind, issues);
  }

  /** Whether the builtin connector or the transform function a config names is installed but not imported yet. */
  private modulesPending(kind: Kind, config: ResolvedConfig): boolean {
    const name = builtinName(config.archive);
    const transform =
      kind === "sink" ? transformFunctionName((config as ResolvedSinkConfig).transformFunction) : undefined;
    return (
      (name !== undefined && this.catalog.isPending(kind, name)) ||
      (transform !== undefined && this.catalog.isPending("function", transform))
    );
  }

  /** As {@link loadModulesOf} for connectors already stored: a failure is logged, and their instances say why. */
  private async loadStoredModules(kind: Kind, config: ResolvedConfig): Promise<void> {
    await this.loadModulesOf(kind, config).catch((error: unknown) =>
      this.logger.error({ connector: `${config.tenant}/${config.namespace}/${config.name}` }, (error as Error).message),
    );
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
    storedPackage: string | undefined = installed?.integrity,
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
      storedPackage,
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
    if (this.modulesPending(component.kind, config)) await this.loadStoredModules(component.kind, config);
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
    await this.beforeStart?.(
      { kind: component.kind, tenant: config.tenant, namespace: config.namespace, name: config.name, instanceId },
      config,
    );
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
    return name === undefined || !this.catalog.isLoaded("function", name)
      ? undefined
      : this.catalog.getFunction(name)?.definition;
  }

  /** Stores `config` and `desired` (what the user asked for) before anything acts on them. */
  private async persist(
    component: Component,
    config: ResolvedConfig,
    desired: Desired[],
    packageIntegrity: string | undefined = component.storedPackage,
  ): Promise<void> {
    const stoppedInstances = desired.flatMap((state, id) => (state === "stopped" ? [id] : []));
    const entry = { kind: component.kind, config, stoppedInstances } as StoredConnector;
    if (packageIntegrity) entry.package = { integrity: packageIntegrity };
    await this.store.save(entry);
  }

  /**
   * Removes an installed package's folder (and, on the worker that stores connectors, its chunks in the cluster's
   * package topic) once no stored connector names it and no submission holds it.
   */
  private async releasePackage(
    installed: InstalledPackage | undefined,
    where: "everywhere" | "here" = "everywhere",
  ): Promise<void> {
    if (!installed || this.pinnedPackages.has(installed.integrity)) return;
    // Decided from what is stored, not from what loaded: a connector whose package failed to load still names it.
    const used = [...this.components.values()].some(
      (component) => !component.deleted && component.storedPackage === installed.integrity,
    );
    if (used) return;
    try {
      await this.packages.remove(installed.integrity);
      // Only the worker that stores connectors tombstones the chunks: another may not have seen a newer use yet.
      if (where === "everywhere") await this.sharedPackages?.remove(installed.integrity, installed.bytes);
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
    // A file:// archive means a file of the worker that received the request: in a cluster that worker read it and
    // kept it in the package topic before forwarding the request here.
    const readElsewhere =
      tarball === undefined &&
      this.sharedPackages !== undefined &&
      submission.sharedPackage !== undefined &&
      archive !== undefined &&
      /^file:\/\//i.test(archive);
    if (!tarball && (archive === undefined || archiveKind(archive) !== "url")) return undefined;
    if (!tarball && !readElsewhere)
      tarball = await fetchArchive(archive as string, { fileDirs: this.options.fileDirs ?? [], maxBytes });
    // Pinned from before the first await on it until the caller stored (or dropped) the connector: a delete of
    // another connector with the same package meanwhile must neither remove its folder nor tombstone its chunks.
    // The header a cluster worker sets: `<integrity> <claim>`; the claim in the package topic shows a member kept it.
    const [sharedIntegrity = "", claim = ""] = (submission.sharedPackage ?? "").split(" ");
    const integrity = tarball ? integrityOf(tarball) : sharedIntegrity;
    this.pin(integrity);
    let installed: InstalledPackage | undefined;
    try {
      if (!tarball) {
        const shared = this.sharedPackages as PackageTopic;
        if (claim === "" || !(await shared.claimed(claim, integrity))) {
          throw new WorkerError(
            "BAD_REQUEST",
            `The package of ${archive} was not kept by a cluster worker for this request; send the request to any worker without the ${SHARED_PACKAGE_HEADER} header`,
          );
        }
        tarball = await shared.get(integrity);
      }
      installed = await this.packages.add(tarball, kind);
      // In a cluster, stored before the connector: every worker the instances may be placed on installs it from there.
      if (!readElsewhere) await this.sharedPackages?.put(tarball);
    } catch (error) {
      this.unpin(integrity);
      await this.releasePackage(installed);
      throw error;
    }
    this.logger.info(
      { package: installed.packageName, version: installed.version, integrity: installed.integrity },
      "connector package installed",
    );
    return installed;
  }

  private pin(integrity: string): void {
    this.pinnedPackages.set(integrity, (this.pinnedPackages.get(integrity) ?? 0) + 1);
  }

  /** Ends the pin {@link packageOf} put on a package. */
  private unpin(installed: InstalledPackage | string | undefined): void {
    if (installed === undefined) return;
    const integrity = typeof installed === "string" ? installed : installed.integrity;
    const count = (this.pinnedPackages.get(integrity) ?? 1) - 1;
    if (count > 0) this.pinnedPackages.set(integrity, count);
    else this.pinnedPackages.delete(integrity);
  }

  /** Whether the scheduler places this instance of the component on this worker. */
  private runsHere(component: Component, slot: InstanceSlot): boolean {
    const { tenant, namespace, name } = component.config;
    const instance: InstanceRef = { kind: component.kind, tenant, namespace, name, instanceId: slot.instanceId };
    return this.scheduler.runsHere(instance);
  }

  /** Starts the instances the user wants running here (stopping is done by the operations themselves). */
  private apply(component: Component): void {
    // An operation that finishes during shutdown is stored; the next start runs it.
    if (this.closing) return;
    for (const slot of component.slots) {
      if (component.desired[slot.instanceId] === "running" && this.runsHere(component, slot)) slot.run();
    }
  }

  /** After a placement change: stops the instances that no longer run here, starts those that now do. */
  private async place(component: Component): Promise<void> {
    const immediate = this.scheduler.mustStopAtOnce?.() ?? false;
    await Promise.all(
      component.slots.filter((slot) => !this.runsHere(component, slot)).map((slot) => slot.stop({ immediate })),
    );
    this.apply(component);
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
      const type = kind === "sink" ? submission.config.sinkType : submission.config.sourceType;
      const archive = submission.url ?? submission.config.archive ?? (type ? `builtin://${String(type)}` : undefined);
      await this.loadModulesOf(kind, { ...submission.config, archive });
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

  // ---------------------------------------------------------------------------------------------------------
  // Cluster mode

  /**
   * Applies a change another worker stored (cluster mode): a new connector, a new config or desired state, or a
   * removal. Instances run here only where the scheduler places them.
   */
  async applyStoredChange(change: StoreChange): Promise<void> {
    if (this.closing) return;
    if ("removed" in change) {
      const { kind, tenant, namespace, name } = change.removed;
      const key = this.key(kind, tenant, namespace, name);
      const component = this.components.get(key);
      if (!component) return;
      await this.exclusive(component, async () => {
        await Promise.all(component.slots.map((slot) => slot.stop()));
        component.deleted = true;
        this.components.delete(key);
        this.scrubber.delete(key);
        await this.releasePackage(component.package, "here");
        this.logger.info({ kind, fqfn: `${tenant}/${namespace}/${name}` }, "connector deleted by another worker");
      });
      return;
    }
    const entry = change.entry;
    const { tenant, namespace, name } = entry.config;
    const key = this.key(entry.kind, tenant, namespace, name);
    const desired = Array.from(
      { length: entry.config.parallelism },
      (_, id): Desired => (entry.stoppedInstances.includes(id) ? "stopped" : "running"),
    );
    const existing = this.components.get(key);
    // The secret scrubber and the instances need the connector's schema and definition.
    await this.loadStoredModules(entry.kind, entry.config);
    if (!existing) {
      const { installed, problem } = await this.restorePackage(entry);
      if (this.components.has(key)) return this.applyStoredChange(change);
      const component = this.addComponent(entry.kind, entry.config, desired, installed, entry.package?.integrity);
      if (problem !== undefined) component.packageProblem = problem;
      this.logger.info(
        { kind: entry.kind, fqfn: `${tenant}/${namespace}/${name}` },
        "connector created by another worker",
      );
      this.apply(component);
      return;
    }
    await this.exclusive(existing, async () => {
      const sameConfig =
        stableJson(existing.config) === stableJson(entry.config) &&
        existing.package?.integrity === entry.package?.integrity;
      if (sameConfig) {
        // Only the desired state changed: stop what is now stopped, start what now runs.
        existing.desired = desired;
        await Promise.all(
          existing.slots.filter((slot) => desired[slot.instanceId] === "stopped").map((slot) => slot.stop()),
        );
        this.apply(existing);
        return;
      }
      const { installed, problem } =
        existing.package?.integrity === entry.package?.integrity
          ? { installed: existing.package, problem: existing.packageProblem }
          : await this.restorePackage(entry);
      await Promise.all(existing.slots.map((slot) => slot.stop()));
      existing.config = entry.config;
      existing.desired = desired;
      const previousPackage = existing.package;
      existing.package = installed;
      existing.storedPackage = entry.package?.integrity;
      if (previousPackage?.integrity !== installed?.integrity) await this.releasePackage(previousPackage, "here");
      if (problem !== undefined) existing.packageProblem = problem;
      else delete existing.packageProblem;
      this.scrubber.set(key, secretValues(entry.config, this.schemaOf(entry.kind, entry.config, installed)));
      this.resizeSlots(existing);
      this.logger.info(
        { kind: entry.kind, fqfn: `${tenant}/${namespace}/${name}` },
        "connector updated by another worker",
      );
      this.apply(existing);
    });
  }

  /** Every instance of every connector, kind-prefixed, with its declared resources: what a cluster leader places. */
  clusterDemands(): Demand[] {
    return [...this.components.values()].flatMap((component) =>
      Array.from(
        { length: Math.min(component.config.parallelism, this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM) },
        (_, instanceId) => ({
          instance: instanceKey({
            kind: component.kind,
            tenant: component.config.tenant,
            namespace: component.config.namespace,
            name: component.config.name,
            instanceId,
          }),
          cpu: Number(component.config.resources?.cpu ?? 0) || 0,
          ram: ramBytes(component.config.resources?.ram),
        }),
      ),
    );
  }

  /** The instances that hold resources here (starting, running, restarting or stopping), kind-prefixed. */
  instancesHeldHere(): string[] {
    return [...this.components.values()].flatMap((component) =>
      component.slots
        .filter((slot) => slot.holdsInstance)
        .map((slot) =>
          instanceKey({
            kind: component.kind,
            tenant: component.config.tenant,
            namespace: component.config.namespace,
            name: component.config.name,
            instanceId: slot.instanceId,
          }),
        ),
    );
  }

  // ---------------------------------------------------------------------------------------------------------
  // Operations

  async create(kind: Kind, path: Path, submission: Submission): Promise<ConfigWarning[]> {
    const { config, installed } = await this.checkSubmission(kind, path, submission);
    const key = this.key(kind, path.tenant, path.namespace, path.name);
    // One name per namespace across sources and sinks, as upstream (whose functions, sources and sinks share names).
    const other = this.key(kind === "sink" ? "source" : "sink", path.tenant, path.namespace, path.name);
    if (this.components.has(key) || this.components.has(other)) {
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

  async update(kind: Kind, path: Path, submission: Submission): Promise<ConfigWarning[]> {
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
      await this.loadModulesOf(kind, merged.value);
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
      await this.persist(component, merged.value, desired, installed?.integrity);
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
      component.storedPackage = installed?.integrity;
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

  async remove(kind: Kind, path: Path): Promise<void> {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    await this.exclusive(component, async () => {
      const desiredBefore = component.desired;
      if (this.stoppedEverywhere) {
        // In a cluster, other workers run instances too: stored as stopped first, so that their owners drain them
        // before the subscription goes (a consumer still connected would create it again).
        const stopped = component.desired.map((): Desired => "stopped");
        await this.persist(component, component.config, stopped);
        component.desired = stopped;
        await Promise.all(component.slots.map((slot) => slot.stop()));
        await this.stoppedEverywhere(
          component.slots.map((slot) => ({
            kind,
            tenant: path.tenant,
            namespace: path.namespace,
            name: path.name,
            instanceId: slot.instanceId,
          })),
        );
      }
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
        if (component.desired !== desiredBefore) {
          await this.persist(component, component.config, desiredBefore).then(
            () => {
              component.desired = desiredBefore;
            },
            (restoreError: unknown) =>
              this.logger.warn(
                { err: (restoreError as Error).message },
                "the connector stays stored as stopped after a failed delete",
              ),
          );
        }
        this.apply(component);
        // A store that cannot write for a moment (a cluster's leader taking its writer back) says retry: so does this.
        const code = error instanceof WorkerError && error.code === "NOT_READY" ? "NOT_READY" : "STORE_FAILED";
        throw new WorkerError(code, `Cannot delete ${kind} ${config.name}: ${(error as Error).message}`, {
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

  async control(
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
      // Stored before acting: a failed write changes nothing, and a crash right after restores the new wish. Nothing
      // to store when the wish is unchanged (a restart of running instances): in a cluster only the leader writes,
      // while a restart is done by the worker running the instance.
      if (desired.some((state, id) => state !== component.desired[id])) {
        await this.persist(component, component.config, desired);
      }
      component.desired = desired;
      if (action === "stop") {
        await Promise.all(slots.map((slot) => slot.stop()));
      } else if (action === "start") {
        for (const slot of slots) if (this.runsHere(component, slot)) slot.run();
      } else {
        await Promise.all(slots.filter((slot) => this.runsHere(component, slot)).map((slot) => slot.restart()));
      }
      this.logger.info(
        { kind, fqfn: `${path.tenant}/${path.namespace}/${path.name}`, instanceId: instance ?? "all", action },
        `connector ${action}`,
      );
    });
  }

  /** Which instances of a connector the user wants stopped (stored as stopped), by instance id. */
  stoppedInstances(kind: Kind, path: Path): number[] {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    return component.desired.flatMap((state, id) => (state === "stopped" ? [id] : []));
  }

  /** One instance's status, or the connector's with every instance. */
  status(kind: Kind, path: Path, instance: string | undefined): InstanceStatus | ConnectorStatus | undefined {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    const slots = this.slotsOf(component, kind, path.name, instance);
    if (instance !== undefined) return slots[0]?.status();
    return upstreamConnectorStatus(
      component.slots.map((slot) => ({ instanceId: slot.instanceId, status: slot.status() })),
    );
  }

  /** Names of the connectors of a kind in a namespace, sorted. */
  names(kind: Kind, tenant: string, namespace: string): string[] {
    return [...this.components.values()]
      .filter((c) => c.kind === kind && c.config.tenant === tenant && c.config.namespace === namespace)
      .map((c) => c.config.name)
      .sort();
  }

  /** A connector's config as `get` shows it: secrets redacted. */
  publicConfigOf(kind: Kind, path: Path): ResolvedConfig {
    const component = this.find(kind, path.tenant, path.namespace, path.name);
    return publicConfig(component.config, this.schemaOf(kind, component.config, component.package));
  }

  /** Checks a submission as `create` would, keeping nothing; answers the resolved config and its warnings. */
  async validate(kind: Kind, path: Path, submission: Submission): Promise<unknown> {
    const { config, installed } = await this.checkSubmission(kind, path, submission);
    this.unpin(installed);
    await this.releasePackage(installed);
    return {
      valid: true,
      config: publicConfig(config, this.schemaOf(kind, config, installed)),
      warnings: this.warningsOf(kind, config, installed),
    };
  }

  /** The config schema of an installed connector, as `builtin<kind>s/<name>/configdefinition` answers it. */
  async configDefinition(kind: Kind, name: string): Promise<unknown> {
    const connector = await this.catalog.load(kind, name);
    if (!connector) {
      throw new WorkerError(
        "NOT_FOUND",
        `Built-in ${kind} '${name}' is not available -- available ${kind}s are: [${this.catalog
          .list(kind)
          .map((entry) => entry.name)
          .join(", ")}]`,
      );
    }
    return configFieldDefinitions((connector as DiscoveredConnector).definition.config);
  }

  /** The schema a submission's connector declares, for finding its secret fields; undefined when not installed. */
  async submittedSchema(kind: Kind, archive: string): Promise<ConfigSchema | undefined> {
    const connectorName = builtinName(archive);
    if (connectorName === undefined) return undefined;
    // A module that cannot be imported has no schema; the submission's check then says why.
    const connector = await this.catalog.load(kind, connectorName).catch(() => undefined);
    return (connector as DiscoveredConnector | undefined)?.definition.config;
  }

  async reload(): Promise<unknown> {
    const result = await this.catalog.reload();
    for (const component of this.components.values()) await this.loadStoredModules(component.kind, component.config);
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
            .filter((slot) => component.desired[slot.instanceId] === "running" && this.runsHere(component, slot))
            .map((slot) => slot.restart()),
        );
      });
    }
    this.logger.info({ ...result }, "connectors reloaded");
    return { ...result, problems: this.catalog.problems };
  }

  builtins(kind: Kind): unknown[] {
    return this.catalog.list(kind).map((connector) => ({
      name: connector.name,
      description: connector.description,
      ...(kind === "sink" ? { sinkClass: connector.packageName } : { sourceClass: connector.packageName }),
      version: connector.packageVersion,
    }));
  }

  /** The connectors as the web console shows them: config, desired state and each instance's status and counters. */
  consoleView(): ConsoleConnector[] {
    return [...this.components.values()].map((component) => ({
      kind: component.kind,
      config: component.config,
      desired: [...component.desired],
      instances: component.slots.map((slot) => ({
        instanceId: slot.instanceId,
        status: slot.status(),
        counters: slot.counters(),
      })),
    }));
  }

  /** The worker's Pulsar client, shared with the instances that run in this process. */
  sharedPulsarClient(): Promise<PulsarClientHandle> {
    return this.pulsarClient();
  }

  /** The instances this worker runs now: started and supervised here, those waiting to restart included. */
  instancesHere(): InstanceRef[] {
    return this.countersHere().map((entry) => entry.instance);
  }

  /** Counters of the instances this worker runs, and their gain in the current one-minute window of `/metrics`. */
  countersHere(): InstanceCounters[] {
    return [...this.components.values()].flatMap((component) => {
      const { tenant, namespace, name } = component.config;
      return component.slots
        .filter((slot) => slot.desired === "running")
        .map((slot) => {
          const counters = slot.counters();
          const key = `${component.kind}:${tenant}/${namespace}/${name}:${slot.instanceId}`;
          return {
            instance: { kind: component.kind, tenant, namespace, name, instanceId: slot.instanceId },
            counters,
            lastMinute: this.minuteWindows.sinceWindowStart(key, counters),
            running: slot.status().running,
          };
        });
    });
  }

  metrics(withExceptions: boolean): string {
    // Per worker: the instances placed here (all of them standalone), not those running on other workers.
    const instances = [...this.components.values()].flatMap((component) =>
      component.slots
        .filter((slot) => this.runsHere(component, slot) || slot.holdsInstance)
        .map((slot) => ({
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
}

/** An instance's counters, as `/admin/v2/worker-stats/functionsmetrics` reports them. */
export interface InstanceCounters {
  instance: InstanceRef;
  counters: SlotCounters;
  lastMinute: MinuteTotals;
  /** Whether the instance is up now (not starting or waiting to restart). */
  running: boolean;
}

export function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
