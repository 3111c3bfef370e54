import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { confinedHostPath } from "@pulsar-connect/core";
import type { DatabaseUrl } from "./url.ts";

/**
 * TLS of a database connection: `false` for a plain connection, else the options of the TLS handshake.
 * `verifyChain` checks the certificate chain; `verifyHost` also checks that the certificate names the host.
 */
export interface DatabaseTls {
  verifyChain: boolean;
  verifyHost: boolean;
  /** PEM file with the CA certificates to trust instead of the system ones. */
  caFile?: string;
}

/** Why the TLS parameters of a URL cannot be honoured: the message names the parameter. */
export class DatabaseTlsError extends Error {
  override readonly name: string = "DatabaseTlsError";
}

const POSTGRES_UNSUPPORTED = [
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslfactory",
  "sslhostnameverifier",
  "sslpasswordcallback",
];
const MARIADB_UNSUPPORTED = [
  "keyStore",
  "keyStorePassword",
  "keyPassword",
  "keyStoreType",
  "trustStore",
  "trustStorePassword",
  "enabledSslProtocolSuites",
  "enabledSslCipherSuites",
  "clientCertificateKeyStoreUrl",
];

function refuseUnsupported(url: DatabaseUrl, names: string[]): void {
  for (const name of names) {
    if (url.params[name] !== undefined) {
      throw new DatabaseTlsError(`the URL parameter ${name} is not supported; client certificates are not available`);
    }
  }
}

function flag(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "" || value === "true") return true;
  if (value === "false") return false;
  throw new DatabaseTlsError(`must be true or false, not '${value}'`);
}

/**
 * TLS for a PostgreSQL URL with libpq's `sslmode` semantics: `disable` (plain), `require` (encrypted, no
 * verification, unless `sslrootcert` is given: then like `verify-ca`), `verify-ca` (chain), `verify-full` (chain and
 * host name). `ssl=true` alone means `verify-full`, as in PgJDBC. `allow` and `prefer` fall back to a plain
 * connection, which node-postgres cannot do, so they are refused. No parameter: a plain connection.
 */
export function postgresTls(url: DatabaseUrl): DatabaseTls | false {
  refuseUnsupported(url, POSTGRES_UNSUPPORTED);
  let ssl: boolean | undefined;
  try {
    ssl = flag(url.params.ssl);
  } catch (error) {
    throw new DatabaseTlsError(`the URL parameter ssl ${(error as Error).message}`);
  }
  const mode = url.params.sslmode ?? (ssl === true ? "verify-full" : "disable");
  const caFile = url.params.sslrootcert;
  if (ssl === false && mode !== "disable") {
    throw new DatabaseTlsError(`the URL parameters ssl=false and sslmode=${mode} contradict each other`);
  }
  const withCa = (tls: DatabaseTls): DatabaseTls => (caFile === undefined ? tls : { ...tls, caFile });
  switch (mode) {
    case "disable":
      return false;
    case "require":
      return caFile === undefined
        ? { verifyChain: false, verifyHost: false }
        : withCa({ verifyChain: true, verifyHost: false });
    case "verify-ca":
      return withCa({ verifyChain: true, verifyHost: false });
    case "verify-full":
      return withCa({ verifyChain: true, verifyHost: true });
    case "allow":
    case "prefer":
      throw new DatabaseTlsError(
        `sslmode=${mode} may fall back to an unencrypted connection, which is not supported; use disable, require, verify-ca or verify-full`,
      );
    default:
      throw new DatabaseTlsError(`sslmode must be disable, require, verify-ca or verify-full, not '${mode}'`);
  }
}

/**
 * TLS for a MariaDB/MySQL URL with MariaDB Connector/J's parameters: `sslMode` `disable`, `trust` (encrypted, no
 * verification), `verify-ca`, `verify-full`; the older `useSsl`/`useSSL`/`requireSSL=true` mean `verify-full`
 * unless `trustServerCertificate=true` (or `verifyServerCertificate=false`). `serverSslCert` names a PEM file of CA
 * certificates. No parameter: a plain connection.
 */
export function mariadbTls(url: DatabaseUrl): DatabaseTls | false {
  refuseUnsupported(url, MARIADB_UNSUPPORTED);
  const flags: Record<string, boolean | undefined> = {};
  for (const name of ["useSsl", "useSSL", "requireSSL", "trustServerCertificate", "verifyServerCertificate"]) {
    try {
      flags[name] = flag(url.params[name]);
    } catch (error) {
      throw new DatabaseTlsError(`the URL parameter ${name} ${(error as Error).message}`);
    }
  }
  const legacy = flags.useSsl === true || flags.useSSL === true || flags.requireSSL === true;
  const trust = flags.trustServerCertificate === true || flags.verifyServerCertificate === false;
  const mode = url.params.sslMode ?? (legacy ? (trust ? "trust" : "verify-full") : "disable");
  const caFile = url.params.serverSslCert;
  const withCa = (tls: DatabaseTls): DatabaseTls => (caFile === undefined ? tls : { ...tls, caFile });
  switch (mode) {
    case "disable":
    case "DISABLE":
      if (legacy)
        throw new DatabaseTlsError("the URL parameters sslMode=disable and useSsl=true contradict each other");
      return false;
    case "trust":
    case "TRUST":
      return { verifyChain: false, verifyHost: false };
    case "verify-ca":
    case "VERIFY_CA":
      return withCa({ verifyChain: true, verifyHost: false });
    case "verify-full":
    case "VERIFY_FULL":
      return withCa({ verifyChain: true, verifyHost: true });
    default:
      throw new DatabaseTlsError(`sslMode must be disable, trust, verify-ca or verify-full, not '${mode}'`);
  }
}

/** Node TLS options for a {@link DatabaseTls}; reads the CA file, which must lie in a folder the operator allows. */
export function tlsConnectionOptions(tls: DatabaseTls, field: string): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.verifyChain };
  if (tls.verifyChain && !tls.verifyHost) options.checkServerIdentity = () => undefined;
  if (tls.caFile !== undefined) {
    const path = confinedHostPath(tls.caFile, field);
    try {
      options.ca = readFileSync(path, "utf8");
    } catch {
      throw new DatabaseTlsError(`${field}: the CA file cannot be read`);
    }
  }
  return options;
}
