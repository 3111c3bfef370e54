import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  compatWarnings,
  formatIssues,
  type Logger,
  type SinkDefinition,
  type SourceDefinition,
} from "@pulsar-connect/core";
import { PulsarClient, type PulsarClientOptions } from "@pulsar-connect/pulsar-client";
import {
  builtinName,
  ConnectorCatalog,
  type ConnectorInstance,
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
  validateConnectorConfigs,
} from "@pulsar-connect/runtime";
import { pino } from "pino";
import { CliError } from "../errors.ts";
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

const TOKEN_PLUGINS = ["org.apache.pulsar.client.impl.auth.AuthenticationToken", "AuthenticationToken", "token"];

/** localrun's client flags work as pulsar-admin documents them, or are refused by name. */
function checkClientFlags(options: Options, serviceUrl: string): void {
  if (options.stateStorageServiceUrl !== undefined) {
    throw new CliError(
      "USAGE",
      "--state-storage-service-url is not supported: connector state is kept in a compacted Pulsar topic",
    );
  }
  const plugin = options.clientAuthPlugin;
  if (plugin !== undefined && !TOKEN_PLUGINS.includes(String(plugin))) {
    throw new CliError("USAGE", `--client-auth-plugin ${String(plugin)} is not supported`, {
      hint: "Use org.apache.pulsar.client.impl.auth.AuthenticationToken with --client-auth-params token:<jwt>.",
    });
  }
  const params = options.clientAuthParams === undefined ? undefined : String(options.clientAuthParams);
  if (params !== undefined && (params.startsWith("{") || params.startsWith("file:") || params.includes(":{"))) {
    throw new CliError("USAGE", "--client-auth-params: only a token is supported (token:<jwt> or the JWT itself)");
  }
  if (plugin !== undefined && params === undefined) {
    throw new CliError("USAGE", "--client-auth-plugin needs --client-auth-params token:<jwt>");
  }
  if (options.useTls === true && !serviceUrl.startsWith("pulsar+ssl://")) {
    throw new CliError("USAGE", `--use-tls needs a pulsar+ssl:// --broker-service-url (got ${serviceUrl})`, {
      hint: "TLS follows the URL scheme, as in the Java client: e.g. pulsar+ssl://localhost:6651.",
    });
  }
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
  const connectorName = builtinName(config.archive) ?? "";
  const connector = catalog.get(kind, connectorName);
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
  if (issues.length > 0) throw issuesError(kind, issues);
  const warnings = [
    ...configWarnings(config as unknown as Record<string, unknown>),
    ...compatWarnings(connector.definition.config, config.configs),
  ];
  for (const warning of warnings) io.stderr.write(`Warning: ${warning.field}: ${warning.message}\n`);

  const serviceUrl = String(options.brokerServiceUrl ?? "pulsar://localhost:6650");
  checkClientFlags(options, serviceUrl);
  const authParams = options.clientAuthParams === undefined ? undefined : String(options.clientAuthParams);
  const token = authParams?.startsWith("token:") ? authParams.slice("token:".length) : authParams;
  const clientOptions: PulsarClientOptions = { serviceUrl };
  if (token) clientOptions.authToken = token;
  if (options.tlsTrustCertPath !== undefined || options.tlsAllowInsecure === true) {
    const tls: NonNullable<PulsarClientOptions["tls"]> = {};
    if (options.tlsTrustCertPath !== undefined) {
      const file = String(options.tlsTrustCertPath);
      if (!existsSync(file)) throw new CliError("USAGE", `--tls-trust-cert-path: file ${file} does not exist`);
      tls.ca = readFileSync(file);
    }
    if (options.tlsAllowInsecure === true) tls.rejectUnauthorized = false;
    clientOptions.tls = tls;
  }
  const client = new PulsarClient(clientOptions);
  const pulsar: InstancePulsar = {
    client: client as unknown as InstancePulsar["client"],
    adminUrl: String(options.webServiceUrl ?? adminUrlFor(serviceUrl)),
    authToken: token,
  };
  const logger = pino(
    {
      level: String(options.logLevel ?? "warn"),
      base: { localrun: `${config.tenant}/${config.namespace}/${config.name}` },
    },
    { write: (line: string) => io.stderr.write(line) },
  ) as unknown as Logger;

  const instances: ConnectorInstance[] = [];
  for (let instanceId = 0; instanceId < config.parallelism; instanceId += 1) {
    instances.push(
      kind === "sink"
        ? createInstance({
            kind: "sink",
            config: config as ResolvedSinkConfig,
            definition: connector.definition as SinkDefinition,
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
      `localrun: starting ${config.parallelism} instance(s) of ${kind} '${connectorName}' as ${fqfn} (${config.processingGuarantees}); Ctrl-C to stop\n`,
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
