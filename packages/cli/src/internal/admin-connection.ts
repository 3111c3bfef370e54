import { existsSync, readFileSync } from "node:fs";
import { type Authentication, authenticationFromPlugin, isPulsarClientError } from "@pulsar-connect/pulsar-client";
import { CliError } from "../errors.ts";
import { type ClientConf, loadClientConf } from "./client-conf.ts";
import type { CliIo } from "./output.ts";

/** How the CLI reaches the worker's admin API. */
export interface AdminConnection {
  adminUrl: string;
  /** A fixed bearer token (`--token`, `$PULSAR_CONNECT_TOKEN`, or an AuthenticationToken). */
  token?: string;
  /** An authentication plugin (OAuth2 fetches its bearer token; TLS presents its certificate). */
  authentication?: Authentication;
  tls: { ca?: Buffer; rejectUnauthorized: boolean; hostnameVerification: boolean };
  timeoutMs: number;
}

/** The global options that shape the admin connection, as commander parses them. */
export interface ConnectionFlags {
  adminUrl?: string;
  token?: string;
  clientConf?: string;
  authPlugin?: string;
  authParams?: string;
  tlsTrustCertPath?: string;
  tlsAllowInsecure?: boolean;
  tlsEnableHostnameVerification?: boolean;
  tlsProvider?: string;
  requestTimeout?: string;
}

/** client.conf from `--client-conf` or `$PULSAR_CLIENT_CONF`, if either names one. */
export function clientConfOf(flags: { clientConf?: string }, io: CliIo): ClientConf | undefined {
  const file = flags.clientConf ?? io.env.PULSAR_CLIENT_CONF;
  if (!file) return undefined;
  return loadClientConf(file, (message) => io.stderr.write(`Warning: ${message}\n`));
}

/** Authentication from a plugin and its parameters; a refused plugin or parameter is a usage error. */
export function pluginAuthentication(
  plugin: string | undefined,
  params: string | undefined,
  where: string,
): Authentication | undefined {
  try {
    return authenticationFromPlugin(plugin, params);
  } catch (error) {
    if (isPulsarClientError(error)) throw new CliError("USAGE", `${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

function trustedCa(file: string, where: string): Buffer {
  if (!existsSync(file)) throw new CliError("USAGE", `${where}: file ${file} does not exist`);
  return readFileSync(file);
}

/**
 * Resolves the admin connection: flags first, then the environment (`PULSAR_CONNECT_ADMIN_URL`,
 * `PULSAR_CONNECT_TOKEN`), then client.conf, then the defaults.
 */
export function adminConnectionOf(flags: ConnectionFlags, io: CliIo): AdminConnection {
  const conf = clientConfOf(flags, io);
  if (flags.tlsProvider !== undefined) {
    throw new CliError("USAGE", "--tls-provider is not supported: TLS is always Node.js's OpenSSL");
  }
  if (flags.token !== undefined && flags.authPlugin !== undefined) {
    throw new CliError("USAGE", "Give --token or --auth-plugin/--auth-params, not both");
  }
  let timeoutMs = 300_000;
  if (flags.requestTimeout !== undefined) {
    const seconds = Number(flags.requestTimeout);
    if (!/^\d+$/.test(flags.requestTimeout) || seconds < 1) {
      throw new CliError(
        "USAGE",
        `--request-timeout must be a whole number of seconds >= 1 (got '${flags.requestTimeout}')`,
      );
    }
    timeoutMs = seconds * 1000;
  }
  const connection: AdminConnection = {
    adminUrl: flags.adminUrl ?? io.env.PULSAR_CONNECT_ADMIN_URL ?? conf?.webServiceUrl ?? "http://localhost:6750",
    tls: {
      rejectUnauthorized: !(flags.tlsAllowInsecure ?? conf?.tlsAllowInsecureConnection ?? false),
      hostnameVerification: flags.tlsEnableHostnameVerification ?? conf?.tlsEnableHostnameVerification ?? false,
    },
    timeoutMs,
  };
  const caFile = flags.tlsTrustCertPath ?? conf?.tlsTrustCertsFilePath;
  if (caFile !== undefined) {
    connection.tls.ca = trustedCa(
      caFile,
      flags.tlsTrustCertPath !== undefined ? "--tls-trust-cert-path" : (conf?.file ?? ""),
    );
  }
  const token = flags.token ?? (flags.authPlugin === undefined ? io.env.PULSAR_CONNECT_TOKEN : undefined);
  if (token) {
    connection.token = token;
    return connection;
  }
  const fromFlags = flags.authPlugin !== undefined || flags.authParams !== undefined;
  const authentication = fromFlags
    ? pluginAuthentication(flags.authPlugin, flags.authParams, "--auth-plugin/--auth-params")
    : pluginAuthentication(conf?.authPlugin, conf?.authParams, `${conf?.file}: authPlugin/authParams`);
  if (authentication) connection.authentication = authentication;
  if (authentication?.tlsCertificate && !connection.adminUrl.startsWith("https://")) {
    throw new CliError(
      "USAGE",
      `AuthenticationTls presents a client certificate, which needs an https:// admin URL (got ${connection.adminUrl})`,
      { hint: "The worker's own API takes bearer tokens: use AuthenticationToken or AuthenticationOAuth2." },
    );
  }
  return connection;
}
