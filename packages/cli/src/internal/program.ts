import { Command, CommanderError, Option } from "commander";
import { CliError } from "../errors.ts";
import { AdminClient } from "./admin-client.ts";
import { type AdminConnection, adminConnectionOf, type ConnectionFlags } from "./admin-connection.ts";
import { isRemoteArchive, localTarball } from "./archive.ts";
import { buildConfig } from "./config-build.ts";
import { identityFlags, sinkConfigFlags, sourceConfigFlags } from "./flags.ts";
import { clusterGroup, functionsWorkerGroup } from "./functions-worker.ts";
import { localrun } from "./localrun.ts";
import { type CliIo, json, table } from "./output.ts";
import { availableOutput, configOutput, listOutput, statusOutput } from "./pulsar-admin-output.ts";
import { runWorker } from "./worker-command.ts";

type Kind = "sink" | "source";
type Options = Record<string, unknown>;

/** table: for a person at a terminal; json: the worker's answers; pulsar-admin: byte for byte what it prints. */
type OutputFormat = "json" | "table" | "pulsar-admin";
const OUTPUT_FORMATS: OutputFormat[] = ["table", "json", "pulsar-admin"];

interface Globals {
  connection: AdminConnection;
  output: OutputFormat;
}

function globalsOf(command: Command, io: CliIo): Globals {
  const options = command.optsWithGlobals() as ConnectionFlags & { output?: string };
  // Scripts (stdout not a terminal) get what pulsar-admin prints, so those written for it keep working.
  const output = options.output ?? (io.stdout.isTTY ? "table" : "pulsar-admin");
  if (!OUTPUT_FORMATS.includes(output as OutputFormat))
    throw new CliError("USAGE", `--output must be one of ${OUTPUT_FORMATS.join(", ")} (got '${output}')`);
  return { connection: adminConnectionOf(options, io), output: output as OutputFormat };
}

function requireName(kind: Kind, options: Options): { tenant: string; namespace: string; name: string } {
  if (!options.name) {
    throw new CliError("USAGE", `You must specify a name for the ${kind}`, { hint: "Pass --name <name>." });
  }
  return {
    tenant: String(options.tenant ?? "public"),
    namespace: String(options.namespace ?? "default"),
    name: String(options.name),
  };
}

/** Prints the warnings of a create/update/validate answer: fields accepted without (full) effect. */
function printWarnings(io: CliIo, answer: unknown): void {
  const warnings = (answer as { warnings?: Array<{ field: string; message: string }> } | undefined)?.warnings ?? [];
  for (const warning of warnings) io.stderr.write(`Warning: ${warning.field}: ${warning.message}\n`);
}

/**
 * The body of a create/update/validate: the config as JSON, or multipart with the package tarball as the `data` part
 * when the archive is a local file or folder (packed with npm), as pulsar-admin uploads it.
 */
async function submissionBody(kind: Kind, config: Record<string, unknown>): Promise<unknown> {
  const archive = typeof config.archive === "string" ? config.archive : undefined;
  if (archive === undefined || isRemoteArchive(archive)) return config;
  const tarball = await localTarball(archive);
  const { archive: _local, ...rest } = config;
  const form = new FormData();
  form.set(`${kind}Config`, JSON.stringify(rest));
  form.set("data", new Blob([new Uint8Array(tarball.bytes)], { type: "application/octet-stream" }), tarball.fileName);
  return form;
}

function instanceIdOf(options: Options): string | undefined {
  if (options.instanceId === undefined) return undefined;
  const id = String(options.instanceId);
  if (!/^\d+$/.test(id)) throw new CliError("USAGE", "instance-id must be a number");
  return id;
}

async function checkType(admin: AdminClient, kind: Kind, type: unknown): Promise<void> {
  if (type === undefined) return;
  const available = ((await admin.builtins(kind)) as Array<{ name: string }>).map((entry) => entry.name);
  if (!available.includes(String(type))) {
    throw new CliError(
      "USAGE",
      `Invalid ${kind} type '${String(type)}' -- Available ${kind}s are: [${available.join(", ")}]`,
      {
        hint: `Install the connector package next to the worker and run \`pulsar-connect ${kind}s reload\`.`,
      },
    );
  }
}

function statusTable(
  kind: Kind,
  status: {
    numInstances: number;
    numRunning: number;
    instances: Array<{ instanceId: number; status: Record<string, unknown> }>;
  },
): string {
  const rows = status.instances.map(({ instanceId, status: s }) => {
    const received = kind === "sink" ? s.numReadFromPulsar : s.numReceivedFromSource;
    const written = kind === "sink" ? s.numWrittenToSink : s.numWritten;
    const errors =
      Number(kind === "sink" ? s.numSinkExceptions : s.numSourceExceptions) + Number(s.numSystemExceptions ?? 0);
    const state = `${s.running ? String(s.state || "running") : String(s.state || s.error || "not running")}${s.stalled ? " (stalled: backlog not moving)" : ""}`;
    return [
      instanceId,
      s.running ? "yes" : "no",
      String(s.numRestarts ?? 0),
      String(received),
      String(written),
      errors,
      state,
    ];
  });
  return `instances: ${status.numInstances}, running: ${status.numRunning}\n${table(
    ["INSTANCE", "RUNNING", "RESTARTS", "IN", "OUT", "ERRORS", "STATE"],
    rows,
  )}`;
}

/**
 * pulsar-admin's deprecated spellings of localrun's flags; the current spelling wins when both are given.
 * (`--brokerServiceUrl`, `--clientAuthPlugin`, `--clientAuthParams` land on the same option names by themselves.)
 */
const LOCALRUN_ALIASES: Array<[alias: string, flag: string]> = [
  ["use_tls", "useTls"],
  ["tls_allow_insecure", "tlsAllowInsecure"],
  ["hostname_verification_enabled", "hostnameVerificationEnabled"],
  ["tls_trust_cert_path", "tlsTrustCertPath"],
];

function withLocalrunAliases(options: Options): Options {
  const merged = { ...options };
  for (const [alias, flag] of LOCALRUN_ALIASES) {
    if (merged[flag] === undefined && merged[alias] !== undefined) merged[flag] = merged[alias];
  }
  for (const flag of ["secretsProviderClassname", "secretsProviderConfig"] as const) {
    if (merged[flag] !== undefined) {
      const name = flag === "secretsProviderClassname" ? "--secrets-provider-classname" : "--secrets-provider-config";
      throw new CliError("USAGE", `${name} is not supported: secrets come from --secrets (a value or {"env": ...})`);
    }
  }
  return merged;
}

function connectorGroup(kind: Kind, io: CliIo, afterAction: (code: number) => void): Command {
  const group = new Command(`${kind}s`).alias(kind).description(`Manage ${kind}s on a worker`);
  const configFlags = kind === "sink" ? sinkConfigFlags : sourceConfigFlags;
  const admin = (command: Command) => {
    const globals = globalsOf(command, io);
    return { globals, client: new AdminClient(globals.connection) };
  };
  const out = (text: string) => io.stdout.write(text);

  const validate = identityFlags(new Command("validate"), kind, true).description(
    `Check a ${kind} config on the worker (defaults, connector, connector configs) without creating anything`,
  );
  configFlags(validate);
  validate.action(async (options: Options, cmd: Command) => {
    const { client, globals } = admin(cmd);
    const { tenant, namespace, name } = requireName(kind, options);
    const config = buildConfig(kind, { ...options, tenant, namespace, name }, true);
    const answer = (await client.request(
      "POST",
      AdminClient.path(kind, tenant, namespace, name, "validate"),
      await submissionBody(kind, config as Record<string, unknown>),
    )) as {
      config?: unknown;
    };
    if (globals.output !== "json") printWarnings(io, answer);
    out(
      globals.output === "json" ? json(answer) : `Valid: ${kind} config with defaults applied:\n${json(answer.config)}`,
    );
  });

  for (const verb of ["create", "update"] as const) {
    const command = identityFlags(new Command(verb), kind, true).description(
      verb === "create"
        ? `Submit a ${kind} to the worker`
        : `Update a ${kind}: configs, secrets, parallelism, guarantee`,
    );
    configFlags(command);
    if (verb === "update") {
      command.option(
        "--update-auth-data",
        "Not supported (instances use the worker's own Pulsar credentials, there is no per-connector auth data); refused",
      );
    }
    command.action(async (options: Options, cmd: Command) => {
      const { client } = admin(cmd);
      const { tenant, namespace, name } = requireName(kind, options);
      if (options.updateAuthData === true) {
        throw new CliError(
          "USAGE",
          "--update-auth-data is not supported: instances connect to Pulsar with the worker's own credentials, so a connector has no auth data of its own to refresh",
        );
      }
      const config = buildConfig(kind, { ...options, tenant, namespace, name }, true);
      await checkType(client, kind, kind === "sink" ? options.sinkType : options.sourceType);
      const answer = await client.request(
        verb === "create" ? "POST" : "PUT",
        AdminClient.path(kind, tenant, namespace, name),
        await submissionBody(kind, config as Record<string, unknown>),
      );
      printWarnings(io, answer);
      out(verb === "create" ? "Created successfully\n" : "Updated successfully\n");
    });
    group.addCommand(command);
  }

  group.addCommand(validate);

  group.addCommand(
    identityFlags(new Command("delete"), kind, true)
      .description(
        kind === "sink" ? "Delete a sink and its subscription (unless cleanupSubscription=false)" : "Delete a source",
      )
      .action(async (options: Options, cmd: Command) => {
        const { client } = admin(cmd);
        const { tenant, namespace, name } = requireName(kind, options);
        await client.request("DELETE", AdminClient.path(kind, tenant, namespace, name));
        out(kind === "sink" ? "Deleted successfully\n" : "Delete source successfully\n");
      }),
  );

  group.addCommand(
    identityFlags(new Command("get"), kind, true)
      .description(`Show a ${kind}'s config (sensitive values redacted)`)
      .action(async (options: Options, cmd: Command) => {
        const { client, globals } = admin(cmd);
        const { tenant, namespace, name } = requireName(kind, options);
        const config = await client.request("GET", AdminClient.path(kind, tenant, namespace, name));
        out(globals.output === "pulsar-admin" ? configOutput(kind, config) : json(config));
      }),
  );

  group.addCommand(
    identityFlags(new Command("status"), kind, true)
      .alias("getstatus")
      .description(`Show the status of a ${kind}'s instances`)
      .option("--instance-id <id>", "Only this instance")
      .addOption(new Option("--instanceId <id>").hideHelp())
      .action(async (options: Options, cmd: Command) => {
        const { client, globals } = admin(cmd);
        const { tenant, namespace, name } = requireName(kind, options);
        const instance = instanceIdOf(options);
        if (instance !== undefined) {
          const status = (await client.request(
            "GET",
            AdminClient.path(kind, tenant, namespace, name, instance, "status"),
          )) as Record<string, unknown>;
          if (globals.output === "pulsar-admin") {
            out(statusOutput(kind, status, true));
            return;
          }
          out(
            globals.output === "json"
              ? json(status)
              : statusTable(kind, {
                  numInstances: 1,
                  numRunning: status.running ? 1 : 0,
                  instances: [{ instanceId: Number(instance), status }],
                }),
          );
          return;
        }
        const status = await client.request("GET", AdminClient.path(kind, tenant, namespace, name, "status"));
        if (globals.output === "pulsar-admin") out(statusOutput(kind, status, false));
        else
          out(
            globals.output === "json" ? json(status) : statusTable(kind, status as Parameters<typeof statusTable>[1]),
          );
      }),
  );

  group.addCommand(
    new Command("list")
      .description(`List the ${kind}s of a namespace`)
      .option("--tenant <tenant>", "Tenant (default: public)")
      .option("--namespace <namespace>", "Namespace (default: default)")
      .action(async (options: Options, cmd: Command) => {
        const { client, globals } = admin(cmd);
        const names = (await client.request(
          "GET",
          AdminClient.path(kind, String(options.tenant ?? "public"), String(options.namespace ?? "default")),
        )) as string[];
        if (globals.output === "pulsar-admin") {
          out(listOutput(names));
          return;
        }
        out(
          globals.output === "json"
            ? json(names)
            : table(
                ["NAME"],
                names.map((name) => [name]),
              ),
        );
      }),
  );

  for (const [verb, done] of [
    ["start", "Started successfully"],
    ["stop", "Stopped successfully"],
    ["restart", "Restarted successfully"],
  ] as const) {
    group.addCommand(
      identityFlags(new Command(verb), kind, true)
        .description(`${verb[0]?.toUpperCase()}${verb.slice(1)} a ${kind}'s instances (all, or one with --instance-id)`)
        .option("--instance-id <id>", "Only this instance")
        .addOption(new Option("--instanceId <id>").hideHelp())
        .action(async (options: Options, cmd: Command) => {
          const { client } = admin(cmd);
          const { tenant, namespace, name } = requireName(kind, options);
          const instance = instanceIdOf(options);
          const segments =
            instance === undefined ? [tenant, namespace, name, verb] : [tenant, namespace, name, instance, verb];
          await client.request("POST", AdminClient.path(kind, ...segments));
          out(`${done}\n`);
        }),
    );
  }

  group.addCommand(
    new Command(kind === "sink" ? "available-sinks" : "available-sources")
      .description(`List the ${kind} connectors installed on the worker`)
      .action(async (_options: Options, cmd: Command) => {
        const { client, globals } = admin(cmd);
        const list = (await client.builtins(kind)) as Array<Record<string, string>>;
        if (globals.output === "json") {
          out(json(list));
          return;
        }
        if (globals.output === "pulsar-admin") {
          out(availableOutput(kind, list));
          return;
        }
        out(
          table(
            ["NAME", "PACKAGE", "DESCRIPTION"],
            list.map((entry) => [entry.name ?? "", entry[`${kind}Class`] ?? "", entry.description ?? ""]),
          ),
        );
      }),
  );

  group.addCommand(
    new Command("reload")
      .description("Re-scan the connector packages installed next to the worker (superuser)")
      .action(async (_options: Options, cmd: Command) => {
        const { client, globals } = admin(cmd);
        const result = (await client.request(
          "POST",
          kind === "sink" ? "/admin/v3/sinks/reloadBuiltInSinks" : "/admin/v3/sources/reloadBuiltInSources",
        )) as { added?: string[]; removed?: string[]; changed?: string[]; unchanged?: string[] } | undefined;
        if (globals.output === "json") {
          out(json(result ?? {}));
          return;
        }
        const show = (items: string[] | undefined) => `[${(items ?? []).join(", ")}]`;
        // pulsar-admin prints nothing on success: the summary goes to stderr for scripts.
        (globals.output === "pulsar-admin" ? io.stderr : io.stdout).write(
          `Reloaded successfully: added ${show(result?.added)}, removed ${show(result?.removed)}, changed ${show(result?.changed)}, unchanged ${show(result?.unchanged)}\n`,
        );
      }),
  );

  const local = identityFlags(new Command("localrun"), kind, true).description(
    `Run a ${kind} in this process against a broker, without a worker`,
  );
  configFlags(local);
  local
    .option("--broker-service-url <url>", "Pulsar service URL (default: pulsar://localhost:6650)")
    .option("--web-service-url <url>", "Pulsar admin URL (default: http://<broker host>:8080)")
    .option(
      "--client-auth-plugin <class>",
      "Authentication plugin: org.apache.pulsar.client.impl.auth.AuthenticationToken, AuthenticationTls or oauth2.AuthenticationOAuth2 (default: client.conf's authPlugin)",
    )
    .option(
      "--client-auth-params <params>",
      'Parameters of the plugin: token:<jwt> or file:<path>; tlsCertFile:<pem>,tlsKeyFile:<pem>; {"issuerUrl":...,"privateKey":"file:///creds.json","audience":...}',
    )
    .option(
      "--use-tls",
      "Use TLS: needs a pulsar+ssl:// --broker-service-url (the scheme decides, as in the Java client)",
    )
    .option("--state-storage-service-url <url>", "Not supported (state is kept in a compacted Pulsar topic); refused")
    .option("--tls-trust-cert-path <file>", "CA certificate (PEM) trusted for the broker's TLS certificate")
    .option("--tls-allow-insecure", "Accept a broker certificate that does not verify")
    .option(
      "--hostname-verification-enabled",
      "Check that the broker's certificate names its host (off by default, as in pulsar-admin; the chain is always checked)",
    )
    .option("--metrics-port-start <port>", "Serve the instances' Prometheus metrics on this port (/metrics)")
    .option("--secrets-provider-classname <class>", "Not supported (secrets come from --secrets); refused")
    .option("--secrets-provider-config <config>", "Not supported (secrets come from --secrets); refused")
    .addOption(new Option("--brokerServiceUrl <url>").hideHelp())
    .addOption(new Option("--clientAuthPlugin <class>").hideHelp())
    .addOption(new Option("--clientAuthParams <params>").hideHelp())
    .addOption(new Option("--use_tls").hideHelp())
    .addOption(new Option("--tls_allow_insecure").hideHelp())
    .addOption(new Option("--hostname_verification_enabled").hideHelp())
    .addOption(new Option("--tls_trust_cert_path <file>").hideHelp())
    .option("--connectors-dir <dir...>", "Folders with a package.json listing connector packages (repeatable)")
    .option("--log-level <level>", "Level of the connector logs on stderr (default: warn)")
    .action(async (_options: Options, cmd: Command) => {
      afterAction(await localrun(kind, withLocalrunAliases(cmd.optsWithGlobals()), io));
    });
  group.addCommand(local);
  return group;
}

/** The `pulsar-connect` command tree. `afterAction` receives exit codes of long-running commands. */
export function buildProgram(io: CliIo, afterAction: (code: number) => void): Command {
  const program = new Command("pulsar-connect")
    .description("Manage Pulsar IO connectors on a pulsar-connect worker, run a worker, or run a connector locally")
    .addOption(
      new Option(
        "--admin-url <url>",
        "Worker admin API URL (default: $PULSAR_CONNECT_ADMIN_URL or http://localhost:6750)",
      ),
    )
    .addOption(new Option("--token <token>", "Bearer token for the worker (default: $PULSAR_CONNECT_TOKEN)"))
    .addOption(
      new Option(
        "--client-conf <file>",
        "pulsar-admin's client.conf (default: $PULSAR_CLIENT_CONF): webServiceUrl, authPlugin, authParams, tls* settings; flags override it",
      ),
    )
    .addOption(
      new Option(
        "--auth-plugin <class>",
        "Authentication plugin towards the worker: AuthenticationToken or AuthenticationOAuth2 (Java class names)",
      ),
    )
    .addOption(new Option("--auth-params <params>", "Parameters of --auth-plugin (token:<jwt>, file:<path>, or JSON)"))
    .addOption(new Option("--tls-trust-cert-path <file>", "CA certificate (PEM) trusted for an https:// admin URL"))
    .addOption(new Option("--tls-allow-insecure", "Accept an admin URL certificate that does not verify"))
    .addOption(
      new Option(
        "--tls-enable-hostname-verification",
        "Check that the admin URL's certificate names its host (off by default, as in pulsar-admin)",
      ),
    )
    .addOption(new Option("--tls-provider <provider>", "Not supported (TLS is Node.js's OpenSSL); refused").hideHelp())
    .addOption(new Option("--request-timeout <seconds>", "Timeout of each request to the worker (default: 300)"))
    .addOption(
      new Option(
        "--output <format>",
        "Output format: table (default on a terminal), json (the worker's answers), or pulsar-admin (what Apache Pulsar's pulsar-admin prints; default when stdout is not a terminal)",
      ).choices(OUTPUT_FORMATS),
    )
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  program.addCommand(connectorGroup("sink", io, afterAction));
  program.addCommand(connectorGroup("source", io, afterAction));
  program.addCommand(functionsWorkerGroup(io, (command) => globalsOf(command, io)));
  program.addCommand(clusterGroup(io, (command) => globalsOf(command, io)));
  program.addCommand(
    new Command("worker")
      .description("Run a worker: the admin API, the connector store and the instances (JSON logs on stdout)")
      .option("--config <file>", "YAML file with worker settings (flags override it)")
      .option("--port <port>", "Admin API port (default: 6750)")
      .option("--host <host>", "Address to listen on (default: 127.0.0.1)")
      .option("--data-dir <dir>", "Folder of the connector store (default: ./pulsar-connect-data)")
      .option("--pulsar-url <url>", "Pulsar service URL (default: pulsar://127.0.0.1:6650)")
      .option("--pulsar-admin-url <url>", "Pulsar admin URL (default: http://127.0.0.1:8080)")
      .option("--pulsar-token <token>", "Token the worker uses towards Pulsar")
      .option(
        "--pulsar-auth-plugin <class>",
        "Authentication plugin towards Pulsar: AuthenticationToken, AuthenticationTls or oauth2.AuthenticationOAuth2",
      )
      .option("--pulsar-auth-params <params>", "Parameters of --pulsar-auth-plugin (as the Java client reads them)")
      .option("--connectors-dir <dir...>", "Folders with a package.json listing connector packages (repeatable)")
      .option("--log-level <level>", "Log level (default: info)")
      .option(
        "--runtime <runtime>",
        "Where instances run unless their custom runtime options say otherwise: in-process (default) or process (a Node process each)",
      )
      .option(
        "--cluster <name>",
        "Join the cluster of workers named so through the Pulsar service (connectors, membership and placement in Pulsar topics; see clusterMode in --config)",
      )
      .option(
        "--stop-timeout <seconds>",
        "How long an instance may drain on stop before it is closed forcibly (default: 25, below Kubernetes' 30 s grace)",
      )
      .action(async (options: Options) => {
        afterAction(await runWorker(options, io));
      }),
  );
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
    for (const sub of command.commands) {
      sub.exitOverride();
      sub.configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
    }
  }
  return program;
}

/** Prints an error the way the CLI shows every failure; returns its exit code. */
export function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
    if (error.code === "commander.help" || error.code === "commander.executeSubCommandAsync") return error.exitCode;
    return 2;
  }
  if (error instanceof CliError) {
    io.stderr.write(`Error: ${error.message}\n`);
    for (const line of error.details) io.stderr.write(`${line}\n`);
    if (error.hint) io.stderr.write(`${error.hint}\n`);
    return error.exitCode;
  }
  io.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

/** Runs the CLI with `argv` (without the node and script entries) and resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (exitCode) => {
    code = exitCode;
  });
  // pulsar-admin's two-letter short option for --schema-type, which commander cannot declare.
  const args = argv.map((arg) => (arg === "-st" ? "--schema-type" : arg));
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    return reportError(error, io);
  }
  return code;
}
