import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join, resolve } from "node:path";
import {
  compatWarnings,
  formatIssues,
  type Logger,
  type SinkDefinition,
  type SourceDefinition,
} from "@pulsar-connect/core/host";
import { type Authentication, PulsarClient, type PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import {
  builtinName,
  ConnectorCatalog,
  type ConnectorInstance,
  checkTransformFunction,
  configWarnings,
  createInstance,
  type InstancePulsar,
  parseCustomRuntimeOptions,
  parseRuntimeFlags,
  type ResolvedSinkConfig,
  type ResolvedSourceConfig,
  resolveSinkConfig,
  resolveSourceConfig,
  type SinkConfig,
  type SourceConfig,
  transformFunctionName,
  validateConnectorConfigs,
} from "@pulsar-connect/runtime";
import { renderMetrics } from "@pulsar-connect/worker";
import { pino } from "pino";
import { CliError } from "../errors.ts";
import { clientConfOf, pluginAuthentication } from "./admin-connection.ts";
import { installForLocalrun } from "./archive.ts";
import { buildConfig } from "./config-build.ts";
import type { CliIo } from "./output.ts";

type Kind = "sink" | "source";
type Options = Record<string, unknown>;

function nearestPackageDir(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function issuesError(kind: Kind, issues: Array<{ path: string; message: string }>): CliError {
  return new CliError(
    "INVALID_CONFIG",
    formatIssues(`Invalid ${kind} config`, issues).split(":")[0] ?? "Invalid config",
    {
      details: issues.map((issue) => `  - ${issue.path || "(config)"}: ${issue.message}`),
      hint: "Fix the fields listed above.",
    },
  );
}

/** localrun's connection to the broker: its flags, else client.conf, else the defaults. */
interface BrokerConnection {
  serviceUrl: string;
  clientOptions: PulsarClientOptions;
  authentication: Authentication | undefined;
}

/** localrun's client flags work as pulsar-admin documents them, or are refused by name. */
function brokerConnection(options: Options, io: CliIo): BrokerConnection {
  if (options.stateStorageServiceUrl !== undefined) {
    throw new CliError(
      "USAGE",
      "--state-storage-service-url is not supported: connector state is kept in a compacted Pulsar topic",
    );
  }
  const conf = clientConfOf(options as { clientConf?: string }, io);
  const serviceUrl = String(options.brokerServiceUrl ?? conf?.brokerServiceUrl ?? "pulsar://localhost:6650");
  const fromFlags = options.clientAuthPlugin !== undefined || options.clientAuthParams !== undefined;
  const authentication = fromFlags
    ? pluginAuthentication(
        options.clientAuthPlugin as string | undefined,
        options.clientAuthParams as string | undefined,
        "--client-auth-plugin/--client-auth-params",
      )
    : pluginAuthentication(conf?.authPlugin, conf?.authParams, `${conf?.file}: authPlugin/authParams`);
  const tlsScheme = serviceUrl.startsWith("pulsar+ssl://");
  if (options.useTls === true && !tlsScheme) {
    throw new CliError("USAGE", `--use-tls needs a pulsar+ssl:// --broker-service-url (got ${serviceUrl})`, {
      hint: "TLS follows the URL scheme, as in the Java client: e.g. pulsar+ssl://localhost:6651.",
    });
  }
  if (authentication?.tlsCertificate && !tlsScheme) {
    throw new CliError("USAGE", `AuthenticationTls needs a pulsar+ssl:// broker service URL (got ${serviceUrl})`);
  }
  const clientOptions: PulsarClientOptions = { serviceUrl };
  if (authentication) clientOptions.authentication = authentication;
  const trustFile = options.tlsTrustCertPath ?? conf?.tlsTrustCertsFilePath;
  const insecure = options.tlsAllowInsecure === true || conf?.tlsAllowInsecureConnection === true;
  // Off unless asked for, as in pulsar-admin (the chain is still verified).
  const hostnameVerification =
    options.hostnameVerificationEnabled === true || conf?.tlsEnableHostnameVerification === true;
  if (tlsScheme) {
    const tls: NonNullable<PulsarClientOptions["tls"]> = { hostnameVerification };
    if (trustFile !== undefined) {
      const file = String(trustFile);
      if (!existsSync(file)) throw new CliError("USAGE", `--tls-trust-cert-path: file ${file} does not exist`);
      tls.ca = readFileSync(file);
    }
    if (insecure) tls.rejectUnauthorized = false;
    clientOptions.tls = tls;
  } else if (options.tlsTrustCertPath !== undefined || options.tlsAllowInsecure === true) {
    throw new CliError(
      "USAGE",
      `--tls-trust-cert-path and --tls-allow-insecure need a pulsar+ssl:// broker service URL (got ${serviceUrl})`,
    );
  } else if (options.hostnameVerificationEnabled === true) {
    throw new CliError(
      "USAGE",
      `--hostname-verification-enabled needs a pulsar+ssl:// broker service URL (got ${serviceUrl})`,
    );
  }
  return { serviceUrl, clientOptions, authentication };
}

/** `--metrics-port-start`: one Prometheus endpoint for all of localrun's instances (they share this process). */
function metricsPort(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new CliError("USAGE", `--metrics-port-start must be a port number between 0 and 65535 (got '${text}')`);
  }
  return Number(text);
}

async function serveMetrics(
  port: number | undefined,
  kind: Kind,
  config: { tenant: string; namespace: string; name: string },
  instances: ConnectorInstance[],
): Promise<Server | undefined> {
  if (port === undefined) return undefined;
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404).end();
      return;
    }
    const metrics = instances.map((instance, instanceId) => ({
      kind,
      tenant: config.tenant,
      namespace: config.namespace,
      name: config.name,
      instanceId,
      counters: instance.stats,
      recentExceptions: { connector: [], system: [] },
    }));
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(renderMetrics(metrics, "localrun"));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(new CliError("USAGE", `--metrics-port-start ${port}: ${(error as Error).message}`, { cause: error })),
    );
    server.listen(port, "127.0.0.1", resolve);
  });
  return server;
}

function adminUrlFor(serviceUrl: string): string {
  try {
    const url = new URL(serviceUrl.split(",")[0] ?? serviceUrl);
    return `http://${url.hostname}:8080`;
  } catch {
    return "http://localhost:8080";
  }
}

interface Totals {
  received: number;
  written: number;
  errors: number;
}

function totalsOf(instances: ConnectorInstance[], retired: Totals): Totals {
  const totals = { ...retired };
  for (const instance of instances) {
    totals.received += instance.stats.received;
    totals.written += instance.stats.written;
    totals.errors += instance.stats.connectorExceptions + instance.stats.systemExceptions;
  }
  return totals;
}

/**
 * `localrun`: runs a connector's instances in this process against a broker, printing progress to stderr once a
 * second until Ctrl-C or until a source has no more records, then a summary. Resolves with the exit code.
 */
export async function localrun(kind: Kind, options: Options, io: CliIo): Promise<number> {
  const raw = buildConfig(kind, options, true);
  if (!raw.name) {
    (raw as Record<string, unknown>).name = builtinName(raw.archive ?? "") ?? `local-${kind}`;
  }
  const resolved = kind === "sink" ? resolveSinkConfig(raw as SinkConfig) : resolveSourceConfig(raw as SourceConfig);
  if (!resolved.ok) throw issuesError(kind, resolved.issues);
  const config = resolved.value;
  const runtimeIssues = [
    ...(parseCustomRuntimeOptions(config.customRuntimeOptions).runtime === "process"
      ? [
          {
            path: "customRuntimeOptions.runtime",
            message: "localrun runs instances in this process; use a worker for the process runtime",
          },
        ]
      : []),
    ...(parseRuntimeFlags(config.runtimeFlags).flags.length > 0
      ? [
          {
            path: "runtimeFlags",
            message:
              "is not supported by localrun: its instances run in this process (use a worker with the process runtime)",
          },
        ]
      : []),
  ];
  if (runtimeIssues.length > 0) throw issuesError(kind, runtimeIssues);
  const hostDirs = [
    ...(options.connectorsDir ? [] : [nearestPackageDir(process.cwd())].filter((dir): dir is string => !!dir)),
    ...((options.connectorsDir as string[] | undefined) ?? []).map((dir) => resolve(dir)),
  ];
  const catalog = await ConnectorCatalog.discover({ hostDirs });
  const connectorName = builtinName(config.archive);
  const connector =
    connectorName === undefined
      ? (await installForLocalrun(kind, config.archive, io.env)).connector
      : catalog.get(kind, connectorName);
  if (!connector) {
    const available = catalog.list(kind).map((entry) => entry.name);
    const problems = catalog.problems.map((problem) => `  - ${problem.packageName}: ${problem.message}`);
    throw new CliError(
      "USAGE",
      `Invalid ${kind} type '${connectorName}' -- Available ${kind}s are: [${available.join(", ")}]`,
      {
        details: problems,
        hint: `Run from a folder whose package.json depends on the connector package, or pass --connectors-dir <dir>.`,
      },
    );
  }
  const issues = validateConnectorConfigs(connector.definition, config.configs, config.secrets);
  if (kind === "sink") {
    const functions = catalog.functions().map((entry) => entry.name);
    issues.push(
      ...checkTransformFunction(config as ResolvedSinkConfig, (name) => catalog.getFunction(name), functions),
    );
  }
  if (issues.length > 0) throw issuesError(kind, issues);
  const transformName =
    kind === "sink" ? transformFunctionName((config as ResolvedSinkConfig).transformFunction) : undefined;
  const transformFunction = transformName === undefined ? undefined : catalog.getFunction(transformName)?.definition;
  const warnings = [
    ...configWarnings(config as unknown as Record<string, unknown>),
    ...compatWarnings(connector.definition.config, config.configs),
  ];
  for (const warning of warnings) io.stderr.write(`Warning: ${warning.field}: ${warning.message}\n`);

  const { serviceUrl, clientOptions, authentication } = brokerConnection(options, io);
  const port = metricsPort(options.metricsPortStart);
  const client = new PulsarClient(clientOptions);
  const pulsar: InstancePulsar = {
    client: client as unknown as InstancePulsar["client"],
    adminUrl: String(options.webServiceUrl ?? adminUrlFor(serviceUrl)),
    authToken: authentication?.bearerToken,
  };
  const logger = pino(
    {
      level: String(options.logLevel ?? "warn"),
      base: { localrun: `${config.tenant}/${config.namespace}/${config.name}` },
    },
    { write: (line: string) => io.stderr.write(line) },
  ) as unknown as Logger;

  const instances: ConnectorInstance[] = [];
  // Before any instance exists: a port in use must fail the run before anything starts.
  let metricsServer: Server | undefined;
  try {
    metricsServer = await serveMetrics(port, kind, config, instances);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  if (metricsServer) {
    const address = metricsServer.address();
    io.stderr.write(
      `localrun: metrics on http://127.0.0.1:${typeof address === "object" ? address?.port : port}/metrics\n`,
    );
  }
  for (let instanceId = 0; instanceId < config.parallelism; instanceId += 1) {
    instances.push(
      kind === "sink"
        ? createInstance({
            kind: "sink",
            config: config as ResolvedSinkConfig,
            definition: connector.definition as SinkDefinition,
            transformFunction,
            instanceId,
            pulsar,
            logger,
            workerId: "localrun",
          })
        : createInstance({
            kind: "source",
            config: config as ResolvedSourceConfig,
            definition: connector.definition as SourceDefinition,
            instanceId,
            pulsar,
            logger,
            workerId: "localrun",
          }),
    );
  }
  const fqfn = `${config.tenant}/${config.namespace}/${config.name}`;
  const started = Date.now();
  let failure: unknown;
  let interrupted = false;
  let finishedCount = 0;
  let wake!: () => void;
  const finished = new Promise<void>((done) => {
    wake = done;
  });
  for (const instance of instances) {
    instance.done.then(
      () => {
        finishedCount += 1;
        if (finishedCount === instances.length) wake();
      },
      (error: unknown) => {
        failure ??= error;
        wake();
      },
    );
  }
  const onSignal = () => {
    interrupted = true;
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const retired: Totals = { received: 0, written: 0, errors: 0 };
  let previous = totalsOf([], retired);
  const ticker = setInterval(() => {
    const now = totalsOf(instances, retired);
    const seconds = Math.round((Date.now() - started) / 1000);
    const line = `[${seconds}s] ${kind} ${fqfn}: in ${now.received - previous.received}/s, out ${now.written - previous.written}/s, total in ${now.received}, out ${now.written}, errors ${now.errors}`;
    io.stderr.write(io.stderr.isTTY ? `\r${line}\u001b[K` : `${line}\n`);
    previous = now;
  }, 1000);
  try {
    io.stderr.write(
      `localrun: starting ${config.parallelism} instance(s) of ${kind} '${connector.name}' as ${fqfn} (${config.processingGuarantees}); Ctrl-C to stop\n`,
    );
    try {
      await Promise.all(instances.map((instance) => instance.start()));
    } catch (error) {
      failure = error;
    }
    if (failure === undefined) await finished;
  } finally {
    clearInterval(ticker);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (io.stderr.isTTY) io.stderr.write("\n");
    await Promise.all(instances.map((instance) => instance.stop().catch(() => undefined)));
    await client.close().catch(() => undefined);
    metricsServer?.close();
  }
  const totals = totalsOf(instances, retired);
  const seconds = (Date.now() - started) / 1000;
  const why =
    failure !== undefined ? "failed" : interrupted ? "interrupted" : "finished: the source has no more records";
  io.stderr.write(
    `Summary (${why}): ${totals.received} records in, ${totals.written} out, ${totals.errors} errors in ${seconds.toFixed(1)} s (${Math.round(totals.written / Math.max(seconds, 0.001))} records/s out)\n`,
  );
  if (failure !== undefined) {
    throw new CliError(
      "FAILED",
      `The ${kind} failed: ${failure instanceof Error ? failure.message : String(failure)}`,
      {
        hint: "Check the connector configs and that the external system and the broker are reachable.",
      },
    );
  }
  return 0;
}
